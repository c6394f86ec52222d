-- A deleted message keeps its row as a tombstone (body emptied, deleted_at
-- set), so its number stays taken and resuming subscribers learn of it.
-- Counts and unread counts count the live rows of a chat: the index serves
-- them without reading the rows.
ALTER TABLE messages
  ADD COLUMN deleted_at DATETIME(3) NULL,
  ADD KEY ix_messages_chat_live (chat_id, deleted_at, number);
