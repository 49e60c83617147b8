-- One-time values shared by all replicas: seen SAML assertion ids and OIDC jti (replay
-- protection), and outstanding AuthnRequest ids / OIDC state (consumed once).
CREATE TABLE one_time_values (
    namespace TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, value)
);
CREATE INDEX one_time_values_expiry ON one_time_values (expires_at);
