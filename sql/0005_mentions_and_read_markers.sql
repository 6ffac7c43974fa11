-- The users a message mentions (`@name`, as their names are stored); NULL
-- when none. Counted per reader after their read marker.
ALTER TABLE messages ADD COLUMN mentions text[];

-- How far each member has read each room: the time of the newest message
-- read. It only moves forward.
CREATE TABLE read_markers (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    chatroom_id uuid NOT NULL REFERENCES chatrooms (id) ON DELETE CASCADE,
    read_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, chatroom_id)
);
