-- Private rooms and direct messages. `created_by` is the room's owner: the
-- creator, until they leave and the longest-standing member takes over.
ALTER TABLE chatrooms
    ADD COLUMN private boolean NOT NULL DEFAULT false,
    ADD COLUMN encrypted boolean NOT NULL DEFAULT false,
    ADD COLUMN kind text NOT NULL DEFAULT 'room' CHECK (kind IN ('room', 'direct')),
    -- A direct room's two members, the smaller id first (twice the same id
    -- for one's notes to self): one direct room per pair.
    ADD COLUMN direct_pair uuid[],
    ADD CONSTRAINT direct_rooms_are_private CHECK (kind = 'room' OR private),
    ADD CONSTRAINT encrypted_rooms_are_private CHECK (private OR NOT encrypted),
    ADD CONSTRAINT direct_rooms_name_their_pair CHECK ((kind = 'direct') = (direct_pair IS NOT NULL));
CREATE UNIQUE INDEX chatrooms_direct_pair ON chatrooms (direct_pair) WHERE direct_pair IS NOT NULL;

-- Names are unique among public rooms only: a private room's name must not
-- tell anyone outside it that it exists.
DROP INDEX chatrooms_name_key;
CREATE UNIQUE INDEX chatrooms_name_key ON chatrooms (lower(name)) WHERE NOT private;

-- A room's members, longest-standing first: who becomes owner.
CREATE INDEX chatroom_members_seniority ON chatroom_members (chatroom_id, joined_at, user_id);
-- The rooms of a user: the listing of private rooms.
CREATE INDEX chatroom_members_user ON chatroom_members (user_id);
