-- Accounts, sessions, rooms, memberships and messages.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    username      text NOT NULL,
    email         text,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Usernames are unique regardless of case.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));

-- The stock bot's own account: owns bot replies, reserves its name, cannot log in.
INSERT INTO users (id, username, password_hash)
VALUES ('00000000-0000-7000-8000-000000000001', 'StockBot', '!');

CREATE TABLE sessions (
    token_hash bytea PRIMARY KEY,          -- SHA-256 of the cookie's token; the token itself is never stored
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE chatrooms (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX chatrooms_name_key ON chatrooms (lower(name));

CREATE TABLE chatroom_members (
    chatroom_id uuid NOT NULL REFERENCES chatrooms (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chatroom_id, user_id)
);

CREATE TABLE messages (
    id          uuid PRIMARY KEY,          -- UUIDv7, increasing with created_at within a room
    chatroom_id uuid NOT NULL REFERENCES chatrooms (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id),
    username    text NOT NULL,
    content     text NOT NULL,
    is_bot      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    client_id   text,                      -- the sender's idempotency key
    command_id  uuid                       -- the stock command a bot reply answers
);
-- The last-50 window and paging: newest first within a room.
CREATE INDEX messages_room_order ON messages (chatroom_id, created_at DESC, id DESC);
-- A resend with the same client_id by the same user in the same room is stored once.
CREATE UNIQUE INDEX messages_client_id_key ON messages (chatroom_id, user_id, client_id)
    WHERE client_id IS NOT NULL;
-- At most one reply per stock command.
CREATE UNIQUE INDEX messages_command_id_key ON messages (command_id) WHERE command_id IS NOT NULL;
