-- Federation configuration: identity providers, their remote ids, mappings and protocols.
CREATE TABLE identity_providers (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    sso_type TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- An IdP's entity ids / issuers; unique across providers.
CREATE TABLE idp_remote_ids (
    remote_id TEXT PRIMARY KEY,
    idp_id TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE
);
CREATE INDEX idp_remote_ids_idp ON idp_remote_ids (idp_id);

-- `document` is the mapping as JSON text: {"rules": [...], "schema_version"?: "..."}.
CREATE TABLE mappings (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    document TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- A mapping in use cannot be deleted (RESTRICT); deleting an IdP removes its protocols.
CREATE TABLE federation_protocols (
    idp_id TEXT NOT NULL REFERENCES identity_providers(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    mapping_id TEXT NOT NULL REFERENCES mappings(id) ON DELETE RESTRICT,
    PRIMARY KEY (idp_id, id)
);
CREATE INDEX federation_protocols_mapping ON federation_protocols (mapping_id);
