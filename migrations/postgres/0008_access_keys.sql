-- Permanent access keys (reference L3834-4310). The secret is sealed with AES-256-GCM under
-- the credential key, which lives outside the database (`credential_key_file`); `key_id` is
-- the fingerprint of the key that sealed it. At most two keys per user (the service's rule,
-- enforced by the store's conditional insert).
CREATE TABLE access_keys (
    access TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    secret_sealed TEXT NOT NULL,
    key_id TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX access_keys_user ON access_keys (user_id);
