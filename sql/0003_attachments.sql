-- Files posted in rooms. A file's bytes are kept in chunks, one row each, so
-- that an upload is written and a download read a chunk at a time, never
-- whole in memory; every instance serves every file. An attachment, its
-- chunks and the message that shows it are written in one transaction.
CREATE TABLE attachments (
    id uuid PRIMARY KEY,
    chatroom_id uuid NOT NULL REFERENCES chatrooms (id),
    uploader_id uuid NOT NULL REFERENCES users (id),
    filename text NOT NULL,
    -- What it is served as: a verified image type, or the claimed type.
    content_type text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    sha256 bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- The uploader's storage total (MAX_USER_STORAGE_BYTES).
CREATE INDEX attachments_uploader ON attachments (uploader_id);

CREATE TABLE attachment_chunks (
    attachment_id uuid NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    seq integer NOT NULL CHECK (seq >= 0),
    data bytea NOT NULL,
    PRIMARY KEY (attachment_id, seq)
);
-- Most uploads are images and archives, compressed already: stored out of
-- line without trying to compress them again.
ALTER TABLE attachment_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- A message's files, as `Message.attachments` shows them; NULL when none.
ALTER TABLE messages ADD COLUMN attachments jsonb;
