-- Identity store. Booleans are integers 0/1 and instants are Unix milliseconds so the same
-- SQL text serves SQLite and PostgreSQL.
CREATE TABLE domains (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL DEFAULT 1,
    parent_id TEXT REFERENCES projects(id) ON DELETE RESTRICT,
    status TEXT NOT NULL DEFAULT 'normal',
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    password_hash TEXT,
    enabled BIGINT NOT NULL DEFAULT 1,
    description TEXT NOT NULL DEFAULT '',
    email TEXT,
    areacode TEXT,
    phone TEXT,
    access_mode TEXT NOT NULL DEFAULT 'default',
    pwd_status BIGINT NOT NULL DEFAULT 0,
    xuser_type TEXT,
    xuser_id TEXT,
    password_expires_at BIGINT,
    last_project_id TEXT,
    is_domain_owner BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    password_changed_at BIGINT,
    last_login_at BIGINT,
    UNIQUE (domain_id, name)
);
CREATE UNIQUE INDEX users_external_identity ON users (domain_id, xuser_type, xuser_id);

CREATE TABLE user_groups (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES user_groups(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role_type TEXT NOT NULL,
    catalog TEXT NOT NULL,
    flag TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    domain_id TEXT,
    policy TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE agencies (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    trust_domain_id TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    duration TEXT NOT NULL,
    expire_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (domain_id, name)
);

-- Grants to groups and agencies. `actor_kind` is 'group' or 'agency', `target_kind` 'domain'
-- or 'project'; `inherited` = 1 means "on every project of the target domain".
CREATE TABLE grants (
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    inherited BIGINT NOT NULL,
    PRIMARY KEY (actor_kind, actor_id, role_id, target_kind, target_id, inherited)
);
CREATE INDEX grants_target ON grants (target_kind, target_id);

CREATE TABLE revocation_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    issued_before BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- Token keys shared by every replica of a deployment.
CREATE TABLE token_keys (
    id BIGINT PRIMARY KEY,
    secret TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
