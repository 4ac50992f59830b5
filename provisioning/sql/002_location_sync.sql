-- 002_location_sync: registrations shared between redirectd instances.
--
-- Every redirectd holds all bindings in memory and writes its changes
-- through to location_bindings; the others hear of each change by NOTIFY
-- and reload that AOR. Binding changes are the busiest notifications (one
-- per REGISTER) and only redirectd wants them, so they go on a channel of
-- their own, vocal_bindings, rather than vocal_changes, which every daemon
-- listens to. A notification must say who made the change, so that its
-- writer does not reload what it already has: each redirectd names itself
-- in the session setting vocal.origin (libpq PGOPTIONS
-- "-c vocal.origin=NAME"), and the bindings' notifications carry it:
--   {"table" : "location_bindings", "op" : "INSERT", "id" : 7,
--    "subscriber_id" : 42, "origin" : "redirect-1"}
-- (origin is "" for changes made by anyone else, provd or psql).

CREATE FUNCTION vocal_notify_binding() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	r location_bindings;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
	ELSE
		r := NEW;
	END IF;
	PERFORM pg_notify('vocal_bindings', json_build_object('table', TG_TABLE_NAME, 'op', TG_OP,
		'id', r.id, 'subscriber_id', r.subscriber_id,
		'origin', coalesce(current_setting('vocal.origin', true), ''))::text);
	RETURN NULL;
END;
$$;

DROP TRIGGER location_bindings_notify ON location_bindings;
CREATE TRIGGER location_bindings_notify AFTER INSERT OR UPDATE OR DELETE ON location_bindings
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_binding();
