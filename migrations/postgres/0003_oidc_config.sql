-- OpenID Connect settings of an identity provider, as validated JSON.
CREATE TABLE idp_oidc_configs (
    idp_id TEXT PRIMARY KEY REFERENCES identity_providers(id) ON DELETE CASCADE,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
