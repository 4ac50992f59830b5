-- 003_features: feature subscriptions (issue 6).
--
-- A subscriber's features run in feature servers (featured, a CPL
-- interpreter). Each subscription names its feature, whether the carrier
-- offers it (VOCAL's adminSet) and whether the subscriber switched it on
-- (VOCAL's userSet), whether the carrier locked its settings, the server
-- group that runs it, and its settings (JSON, validated by provd with
-- feature/settings.c; featured generates the CPL it runs from them).
--
-- redirectd routes an INVITE through the caller's calling-feature groups,
-- then the callee's called-feature groups, then to the callee's contacts:
-- the hop list comes from the active subscriptions in feature_kinds order.

-- ---- feature kinds (reference data) ------------------------------------------

CREATE TABLE feature_kinds (
	name     text PRIMARY KEY CHECK (name ~ '^[a-z][a-z_]{0,31}$'),
	-- calling: runs for the caller's outgoing calls; called: for the
	-- callee's incoming calls; both: on either side.
	side     text NOT NULL CHECK (side IN ('calling', 'called', 'both')),
	-- Order of the hops within a side (and of the features in a combined
	-- script): lower first.
	position integer NOT NULL UNIQUE
);

INSERT INTO feature_kinds (name, side, position) VALUES
	-- calling side: call return (dialling *69) first, blocking before
	-- anything leaves, caller-ID blocking last since it hides the caller
	-- redirectd would look up for the hops before it.
	('call_return',        'both',    10),
	('call_blocking',      'calling', 20),
	('cpl',                'both',    30),
	('caller_id_blocking', 'calling', 40),
	-- called side: screening before anything rings.
	('call_screening',     'called',  50),
	('time_of_day',        'called',  60),
	('forward_all',        'called',  70),
	('forward_busy',       'called',  80),
	('forward_no_answer',  'called',  90),
	('voicemail',          'called', 100);

-- ---- subscriptions -------------------------------------------------------------

-- What a feature server group does when none of its servers answers: fail
-- the call (blocking and screening must not be skipped) or skip the hop
-- (the call goes on without those features).
ALTER TABLE server_groups ADD COLUMN on_failure text NOT NULL DEFAULT 'fail'
	CHECK (on_failure IN ('fail', 'skip'));

-- The feature group new subscriptions in the domain use when provd is not
-- told one.
ALTER TABLE domains ADD COLUMN feature_group_id bigint
	REFERENCES server_groups (id) ON DELETE SET NULL;

CREATE TABLE subscriber_features (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	subscriber_id bigint NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	feature       text NOT NULL REFERENCES feature_kinds (name),
	-- Active when both are true.
	admin_enabled boolean NOT NULL DEFAULT true,
	user_enabled  boolean NOT NULL DEFAULT false,
	-- The carrier set it up; the subscriber may neither switch it nor
	-- change its settings.
	locked        boolean NOT NULL DEFAULT false,
	-- The feature server group that runs it (kind 'feature').
	group_id      bigint NOT NULL REFERENCES server_groups (id) ON DELETE RESTRICT,
	settings      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object' AND
	                octet_length(settings::text) <= 65536),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	UNIQUE (subscriber_id, feature)
);
CREATE INDEX subscriber_features_group_idx ON subscriber_features (group_id);

CREATE TRIGGER subscriber_features_notify AFTER INSERT OR UPDATE OR DELETE ON subscriber_features
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change('subscriber_id');
CREATE TRIGGER subscriber_features_touch BEFORE UPDATE ON subscriber_features
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();

-- ---- call return ----------------------------------------------------------------

-- The last caller of each subscriber with call_return, written by the
-- featured that ran the subscriber's called side, read by the one that
-- runs the calling side when the subscriber dials the call-return code.
-- Soft state: no notifications.
CREATE TABLE last_callers (
	subscriber_id bigint PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
	-- The caller's address (From URI) as it came, unless the caller
	-- asked for privacy, which call return respects.
	caller        text NOT NULL CHECK (length(caller) <= 2048),
	called_at     timestamptz NOT NULL DEFAULT now()
);
