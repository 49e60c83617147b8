-- The SP's own keys (shared by all replicas) and imported IdP metadata.
CREATE TABLE sp_keys (
    usage TEXT PRIMARY KEY,
    private_key TEXT NOT NULL,
    certificate TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE idp_saml_metadata (
    idp_id TEXT NOT NULL,
    protocol_id TEXT NOT NULL,
    id TEXT NOT NULL,
    domain_id TEXT NOT NULL,
    xaccount_type TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    data TEXT NOT NULL,
    parsed TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (idp_id, protocol_id),
    FOREIGN KEY (idp_id, protocol_id) REFERENCES federation_protocols(idp_id, id) ON DELETE CASCADE
);
