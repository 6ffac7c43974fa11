-- Each user's identity key for encrypted rooms: the public half (an
-- uncompressed P-256 point), and the private half sealed on the client
-- under the user's passphrase, which the server never sees (the backup
-- another browser restores from).
CREATE TABLE identity_keys (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    public_key bytea NOT NULL CHECK (length(public_key) = 65),
    backup jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
