-- An INSERT into a table views are read from only adds (a user, a group, a membership, a grant
-- of a role, a key): fedgate's grants only allow, so a new row can widen what a cached view
-- allows, never narrow it. Such a statement is announced as `additions`: replicas stop
-- serving their views as fresh (the new row must be seen at once) but may still answer from
-- them while the store cannot, which `views` (an update, a delete) forbids. Without this, any
-- busy writer elsewhere (new users every second) left no view to ride out an outage with.
-- An upsert fires the UPDATE trigger too, so a changed row is still announced as `views`.
-- Revocations are never additions. Were a grant ever to deny, this must change with it.
CREATE OR REPLACE FUNCTION fedgate_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('fedgate_changes', current_setting('application_name', true) || ' ' ||
        CASE WHEN TG_ARGV[0] = 'views' AND TG_OP = 'INSERT' THEN 'additions' ELSE TG_ARGV[0] END);
    RETURN NULL;
END;
$$;

-- A key re-sealed under another credential key (`key_id`) no longer opens here: a change.
DROP TRIGGER announce ON access_keys;
CREATE TRIGGER announce AFTER INSERT OR DELETE OR TRUNCATE OR UPDATE OF enabled, secret_sealed, user_id, key_id ON access_keys FOR EACH STATEMENT EXECUTE FUNCTION fedgate_announce('views');
ALTER TABLE access_keys ENABLE ALWAYS TRIGGER announce;
