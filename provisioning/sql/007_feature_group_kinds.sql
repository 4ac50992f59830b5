-- 007_feature_group_kinds: what names a feature group is one (issue 6).
--
-- domains.feature_group_id (new subscriptions' default) and
-- subscriber_features.group_id must name a server group of kind 'feature':
-- redirectd sends calls to that group's servers as feature hops, so a
-- marshal or registrar group there would loop calls or lose features. A
-- CHECK cannot look at another table, so a trigger does, and answers as a
-- CHECK would (check_violation: provd's 422, with this message); a group's
-- kind cannot change (provd refuses it), so checking the referring rows is
-- enough.
CREATE FUNCTION vocal_check_feature_group() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	gid bigint;
	k text;
BEGIN
	gid := (to_jsonb(NEW) ->> TG_ARGV[0])::bigint;
	IF gid IS NULL THEN
		RETURN NEW;
	END IF;
	SELECT kind INTO k FROM server_groups WHERE id = gid;
	IF k IS NOT NULL AND k <> 'feature' THEN
		RAISE EXCEPTION '%: server group % is of kind %, not feature', TG_ARGV[0], gid, k
			USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END;
$$;

CREATE TRIGGER domains_feature_group_kind BEFORE INSERT OR UPDATE OF feature_group_id ON domains
	FOR EACH ROW EXECUTE FUNCTION vocal_check_feature_group('feature_group_id');
CREATE TRIGGER subscriber_features_group_kind BEFORE INSERT OR UPDATE OF group_id ON subscriber_features
	FOR EACH ROW EXECUTE FUNCTION vocal_check_feature_group('group_id');
