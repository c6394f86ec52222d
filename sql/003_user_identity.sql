-- An application's credentials live apart from the application row, so no
-- query that reads applications can return a secret. The secret is kept as
-- it is: verifying HS256 user tokens needs the key itself.
CREATE TABLE IF NOT EXISTS application_access (
  application_id BIGINT UNSIGNED NOT NULL,
  secret VARBINARY(64) NOT NULL,
  previous_secret VARBINARY(64) NULL,
  previous_secret_until DATETIME(3) NULL,
  user_tokens_required TINYINT(1) NOT NULL DEFAULT 0,
  PRIMARY KEY (application_id),
  CONSTRAINT fk_access_application FOREIGN KEY (application_id) REFERENCES applications (id)
) ENGINE=InnoDB;

-- Who sent a message (the user token's sub and name); NULL for anonymous writes.
ALTER TABLE messages
  ADD COLUMN sender_id VARCHAR(64) NULL,
  ADD COLUMN sender_name VARCHAR(255) NULL;
