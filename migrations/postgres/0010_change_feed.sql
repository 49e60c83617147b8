-- Replicas hear of every change from the database itself: a statement trigger (on TRUNCATE
-- too, and firing ALWAYS, even for sessions replaying changes as a replica) sends
-- NOTIFY fedgate_changes inside the writing transaction, so the announcement is delivered
-- exactly when (and only if) the write commits, whichever process or code path wrote it. The
-- payload names the writer (its `application_name`, which fedgate sets to its instance id, so a
-- replica skips its own) and what changed: `views` (names, roles, status, configuration) or
-- `revocations` (revocation events and token keys, which replicas re-read).
CREATE FUNCTION fedgate_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fedgate_changes', current_setting('application_name', true) || ' ' || TG_ARGV[0]);
    RETURN NULL;
END;
$$;

CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON domains FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON projects FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON user_groups FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON group_members FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON grants FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON roles FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON agencies FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON identity_providers FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON idp_remote_ids FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON federation_protocols FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON mappings FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON idp_oidc_configs FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON idp_saml_metadata FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON sp_keys FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
-- A federated user's sign-in upserts its row (last sign-in time): only a status change or a
-- removal concerns the views.
CREATE TRIGGER announce AFTER UPDATE OF enabled OR DELETE OR TRUNCATE ON federated_users FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
-- Last uses are flushed every refresh interval: not a change of what a key may do.
CREATE TRIGGER announce AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF enabled, secret_sealed, user_id ON access_keys FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT ON revocation_events FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('revocations');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON token_keys FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('revocations');
-- Also for sessions with session_replication_role = replica (logical replication applying
-- changes): a write is a write.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['domains', 'projects', 'users', 'user_groups', 'group_members', 'grants', 'roles',
        'agencies', 'identity_providers', 'idp_remote_ids', 'federation_protocols', 'mappings', 'idp_oidc_configs',
        'idp_saml_metadata', 'sp_keys', 'federated_users', 'access_keys', 'revocation_events', 'token_keys']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ALWAYS TRIGGER announce', t);
    END LOOP;
END;
$$;
