-- Failed password logins, shared by all replicas: the lockout of the login policy (reference
-- L14380-14390). Only existing users have a row; a successful login deletes it.
CREATE TABLE login_failures (
    user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    failures BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    locked_until BIGINT
);
