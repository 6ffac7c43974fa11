-- A room's order is assigned by PostgreSQL, so that several chat instances
-- writing one room agree on it: an insert locks the room's row, stamps its
-- messages after `last_message_at`, and advances it before committing. Times
-- in a room therefore increase strictly in commit order, and every message can
-- name the time of the one before it.
ALTER TABLE chatrooms ADD COLUMN last_message_at timestamptz;

UPDATE chatrooms c
SET last_message_at = (SELECT max(m.created_at) FROM messages m WHERE m.chatroom_id = c.id);

-- Message ids stay UUIDv7 chosen by the instance that stored the message; with
-- several instances they need not increase with created_at, so a room is read in
-- (created_at, id) order, as before.
