-- A file is stored before its message: the message then takes its place in
-- the room's order through the room writer like any other. `message_id`
-- links the file to the message that shows it once that message is stored;
-- a file left unlinked (its message refused, or its instance gone before
-- the message was stored) is deleted after a while, unless a message
-- turns out to show it after all.
ALTER TABLE attachments ADD COLUMN message_id uuid;

UPDATE attachments a SET message_id = (
    SELECT m.id FROM messages m
    WHERE m.chatroom_id = a.chatroom_id
      AND m.attachments @> jsonb_build_array(jsonb_build_object('id', a.id))
    LIMIT 1);

-- The sweep's candidates: few, and only while their message is on its way.
-- (A message that shows a file is in the file's room and stored after it:
-- the sweep finds it through the room's order, with no index of its own.)
CREATE INDEX attachments_unlinked ON attachments (created_at) WHERE message_id IS NULL;
