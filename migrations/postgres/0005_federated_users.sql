-- Shadow records of federated (virtual) users, so admins can list and disable them. Their
-- group memberships come from the mapping at each login and are never stored.
CREATE TABLE federated_users (
    id TEXT PRIMARY KEY,
    idp_id TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    protocol_id TEXT NOT NULL,
    name TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    UNIQUE (idp_id, name)
);
