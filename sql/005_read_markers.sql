-- How far each user has read each chat (the user token's sub). Markers only
-- move forward: the worker keeps the greater number.
CREATE TABLE IF NOT EXISTS read_markers (
  chat_id BIGINT UNSIGNED NOT NULL,
  user_id VARCHAR(64) NOT NULL,
  number INT UNSIGNED NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  PRIMARY KEY (chat_id, user_id),
  CONSTRAINT fk_read_markers_chat FOREIGN KEY (chat_id) REFERENCES chats (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
