-- Display names of users and groups (Alibaba Cloud's `DisplayName`): a label shown beside the
-- name, never used to look anything up. NULL: none given; dialects then show the name.
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE user_groups ADD COLUMN display_name TEXT;
