-- Encrypted rooms. The room key of each epoch is made by a member's client
-- and reaches each member wrapped for their identity key (an envelope);
-- the server keeps the envelopes and which epoch is current, never a key.
-- `rotation_needed`: a member left or was removed, so the current key is
-- known to someone outside; nobody sends until a member rotates.
ALTER TABLE chatrooms
    ADD COLUMN epoch integer,
    ADD COLUMN rotation_needed boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT encrypted_rooms_have_an_epoch CHECK ((epoch IS NOT NULL) = encrypted),
    ADD CONSTRAINT epochs_start_at_one CHECK (epoch >= 1);

CREATE TABLE room_key_envelopes (
    chatroom_id uuid NOT NULL REFERENCES chatrooms (id) ON DELETE CASCADE,
    recipient_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    epoch integer NOT NULL CHECK (epoch >= 1),
    sender_id uuid NOT NULL REFERENCES users (id),
    ephemeral_public_key bytea NOT NULL CHECK (length(ephemeral_public_key) = 65),
    wrapped_key bytea NOT NULL CHECK (length(wrapped_key) = 40),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- A member's envelopes, epoch by epoch: what `GET …/keys` reads.
    PRIMARY KEY (chatroom_id, recipient_id, epoch)
);

-- A sealed message (or its sealed edit): `{epoch, iv, ciphertext}` as the
-- client sent it; `content` is then empty.
ALTER TABLE messages ADD COLUMN encrypted jsonb;

-- An encrypted room's file: ciphertext with no name, which no message has
-- shown yet until one names it (the sweep deletes it otherwise).
ALTER TABLE attachments ADD COLUMN encrypted boolean NOT NULL DEFAULT false;
