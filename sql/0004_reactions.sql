-- Reactions: one row per user, message and emoji. A message's state is read
-- whole after every change (emoji in order of first use), so a client is
-- always sent a state, never a delta.
CREATE TABLE reactions (
    message_id uuid NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id),
    username text NOT NULL,
    emoji text NOT NULL,
    reacted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (message_id, user_id, emoji)
);

-- Counts the changes to a message's reactions. A change bumps it first, which
-- locks the message's row: changes to one message are applied one at a time,
-- and every instance keeps only the state of the highest count it has seen,
-- whatever order the broker delivers them in. Also: 0 means no reactions were
-- ever made, and history reads skip the reactions table for such messages.
ALTER TABLE messages ADD COLUMN reaction_version integer NOT NULL DEFAULT 0;
