-- Tokens compare byte for byte. CHAR with a PAD SPACE collation matched
-- "<token> " to "<token>", while Redis kept separate counters for the padded
-- spelling; VARBINARY has no collation, so no variant can match and no
-- non-ASCII parameter can fail to aggregate collations.
ALTER TABLE applications MODIFY token VARBINARY(22) NOT NULL;
