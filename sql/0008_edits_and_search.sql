-- A room's log holds, beside its messages, the changes made to them: an
-- edit or a deletion is a row of the room's chain (`kind` 'edit' or
-- 'delete', `target_id` the message it changes), so resume and gap fills
-- carry it in order with the messages, whatever the age of the message it
-- changes. A change row holds no text: the message's row holds what it says
-- now, and replay reads it from there.
ALTER TABLE messages ADD COLUMN kind text NOT NULL DEFAULT 'message'
    CHECK (kind IN ('message', 'edit', 'delete'));
ALTER TABLE messages ADD COLUMN target_id uuid;
-- When the message was last edited (NULL: never).
ALTER TABLE messages ADD COLUMN edited_at timestamptz;
-- A deleted message keeps its place as a tombstone; its text, mentions,
-- files and reactions are gone.
ALTER TABLE messages ADD COLUMN deleted boolean NOT NULL DEFAULT false;
-- The message of the same room this one answers.
ALTER TABLE messages ADD COLUMN reply_to uuid;

-- Search: whole words, lower case, accents removed.
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TEXT SEARCH CONFIGURATION chat_words (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION chat_words
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;

-- The words of each message, kept apart from `messages` so that storing a
-- message costs no text analysis and no index entry per word: an indexer
-- fills it shortly after messages are stored. An edit rewrites its row; a
-- deletion empties it (an empty row, so that an indexer late with the old
-- text adds nothing). Message ids are UUIDv7 and grow with time, so the
-- primary key also orders results newest first and finds where a catch-up
-- starts: no other index is kept up to date per message.
CREATE TABLE message_words (
    message_id uuid PRIMARY KEY,
    chatroom_id uuid NOT NULL,
    words tsvector NOT NULL
);
CREATE INDEX message_words_search ON message_words USING gin (words);

INSERT INTO message_words (message_id, chatroom_id, words)
SELECT id, chatroom_id, to_tsvector('chat_words', content)
FROM messages WHERE content <> '';
