-- Replicas hear of every change from the database itself: a statement trigger sends
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

CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON domains FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON projects FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON users FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON user_groups FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON group_members FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON grants FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON roles FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON agencies FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON identity_providers FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON idp_remote_ids FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON federation_protocols FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON mappings FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON idp_oidc_configs FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON idp_saml_metadata FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON sp_keys FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
-- A federated user's sign-in upserts its row (last sign-in time): only a status change or a
-- removal concerns the views.
CREATE TRIGGER announce AFTER UPDATE OF enabled OR DELETE ON federated_users FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
-- Last uses are flushed every refresh interval: not a change of what a key may do.
CREATE TRIGGER announce AFTER INSERT OR DELETE OR UPDATE OF enabled, secret_sealed, user_id ON access_keys FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
CREATE TRIGGER announce AFTER INSERT ON revocation_events FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('revocations');
CREATE TRIGGER announce AFTER INSERT OR UPDATE OR DELETE ON token_keys FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('revocations');
