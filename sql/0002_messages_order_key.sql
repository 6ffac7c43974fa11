-- The room's order is the key of `messages`: (chatroom_id, created_at) is the
-- primary key, the history window's index and the replay cursor at once.
-- The writer gives every message of a room a strictly later time than the one
-- before it, so existing rows already satisfy it.
--
-- The foreign keys go: each checked and share-locked a `chatrooms` and a
-- `users` row for every stored message, and neither can be violated by the
-- writer (the insert keeps only rows whose room exists; a message's user comes
-- from a signed-in session; rooms and users are never deleted).
ALTER TABLE messages DROP CONSTRAINT messages_chatroom_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_user_id_fkey;
ALTER TABLE messages DROP CONSTRAINT messages_pkey;
DROP INDEX messages_room_order;
ALTER TABLE messages ADD CONSTRAINT messages_pkey PRIMARY KEY (chatroom_id, created_at);
-- Ids stay what the API names messages by; UUIDv7 ids grow with time, so
-- this index is appended to at its right edge.
CREATE UNIQUE INDEX messages_id_key ON messages (id);
-- Each message names the time of the room's message before it ('-infinity'
-- for a room's first; NULL on rows stored before this column), and no two
-- messages of a room name the same one: a room's messages form one chain, so
-- two writers appending after the same message cannot both commit.
ALTER TABLE messages ADD COLUMN previous_at timestamptz;
CREATE UNIQUE INDEX messages_chain_key ON messages (chatroom_id, previous_at);
