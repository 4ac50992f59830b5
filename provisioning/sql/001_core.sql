-- 001_core: the first provisioning schema (issues 4 and 5).
--
-- Domains, subscribers (digest HA1 per algorithm, never a password),
-- IP access lists, aliases and DIDs, servers and server groups, dial plans
-- and the registrar's location bindings. Every change to any of these
-- tables sends a NOTIFY on channel vocal_changes whose payload is JSON:
--   {"table" : "subscribers", "op" : "UPDATE", "id" : 42}
-- and, for rows that belong to another row, that row's id as well, e.g.
--   {"table" : "location_bindings", "op" : "INSERT", "id" : 7, "subscriber_id" : 42}
-- so a daemon drops exactly the cache entries that changed.
--
-- Applied by db_migrate (common/db.c) inside one transaction; see README.md.

-- ---- change notification and bookkeeping ----------------------------------

-- AFTER ROW trigger on every provisioning table. TG_ARGV[0], when given,
-- names a column (the owning row's id) to add to the payload.
CREATE FUNCTION vocal_notify_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	r jsonb;
	payload json;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := to_jsonb(OLD);
	ELSE
		r := to_jsonb(NEW);
	END IF;
	IF TG_NARGS > 0 THEN
		payload := json_build_object('table', TG_TABLE_NAME, 'op', TG_OP,
			'id', r -> 'id', TG_ARGV[0], r -> TG_ARGV[0]);
	ELSE
		payload := json_build_object('table', TG_TABLE_NAME, 'op', TG_OP,
			'id', r -> 'id');
	END IF;
	PERFORM pg_notify('vocal_changes', payload::text);
	RETURN NULL;
END;
$$;

-- BEFORE UPDATE: updated_at is what provd turns into an ETag.
CREATE FUNCTION vocal_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END;
$$;

-- ---- domains ---------------------------------------------------------------

CREATE TABLE domains (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- A lower-case DNS name (RFC 1035 labels); the hosted SIP domain.
	name        text NOT NULL UNIQUE
	            CHECK (length(name) <= 253 AND name ~
	              '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
	-- Digest realm (RFC 7616); the subscribers' HA1s are computed with it,
	-- so changing it means setting every password again.
	realm       text NOT NULL CHECK (realm ~ '^[\x21\x23-\x5b\x5d-\x7e]([\x20\x21\x23-\x5b\x5d-\x7e]{0,126}[\x21\x23-\x5b\x5d-\x7e])?$'),
	enabled     boolean NOT NULL DEFAULT true,
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now()
);

-- ---- servers and server groups ---------------------------------------------

CREATE TABLE server_groups (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
	-- VOCAL's server kinds; the marshal kinds are the user-agent and
	-- gateway marshals of issue 4.
	kind        text NOT NULL CHECK (kind IN ('marshal_ua', 'marshal_gateway',
	              'redirect', 'feature', 'cdr', 'provisioning', 'heartbeat', 'voicemail')),
	description text NOT NULL DEFAULT '' CHECK (length(description) <= 1024),
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE servers (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	group_id    bigint NOT NULL REFERENCES server_groups (id) ON DELETE RESTRICT,
	-- A host name or an IP address literal (IPv6 without brackets).
	host        text NOT NULL CHECK (length(host) <= 253 AND
	              (host ~ '^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$' OR host ~ '^[0-9A-Fa-f:.]+$')),
	port        integer NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
	transport   text NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp', 'tls', 'sctp', 'ws', 'wss')),
	-- RFC 2782 semantics: lower priority first, weight within a priority.
	priority    integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN 0 AND 65535),
	weight      integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 0 AND 65535),
	enabled     boolean NOT NULL DEFAULT true,
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	UNIQUE (host, port, transport)
);
CREATE INDEX servers_group_idx ON servers (group_id);

-- ---- subscribers -----------------------------------------------------------

CREATE TABLE subscribers (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	domain_id   bigint NOT NULL REFERENCES domains (id) ON DELETE RESTRICT,
	-- RFC 3261 user: unreserved, user-unreserved and %HH escapes. Case
	-- matters (section 19.1.4), so no folding.
	user_part   text NOT NULL CHECK (length(user_part) <= 64 AND
	              user_part ~ '^([A-Za-z0-9_.!~*''()&=+$,;?/-]|%[0-9A-Fa-f]{2})+$'),
	display_name text NOT NULL DEFAULT '' CHECK (length(display_name) <= 128 AND display_name !~ '[\x01-\x1f\x7f]'),
	-- none: anyone may claim it (lab use); ip: source address in
	-- subscriber_acl; digest: RFC 8760 digest with the HA1s below.
	auth_kind   text NOT NULL DEFAULT 'digest' CHECK (auth_kind IN ('none', 'ip', 'digest')),
	-- HA1 = H(user_part ":" realm ":" password), lower-case hex, one per
	-- algorithm; NULL until a password is set. Never the password itself.
	ha1_md5        text CHECK (ha1_md5 ~ '^[0-9a-f]{32}$'),
	ha1_sha256     text CHECK (ha1_sha256 ~ '^[0-9a-f]{64}$'),
	ha1_sha512_256 text CHECK (ha1_sha512_256 ~ '^[0-9a-f]{64}$'),
	-- The marshal group that serves this subscriber (a marshal_* group).
	marshal_group_id bigint REFERENCES server_groups (id) ON DELETE RESTRICT,
	enabled     boolean NOT NULL DEFAULT true,
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now(),
	-- The AOR: what the registrar and the router look up.
	UNIQUE (domain_id, user_part)
);
CREATE INDEX subscribers_marshal_group_idx ON subscribers (marshal_group_id);

-- IP access list of subscribers with auth_kind 'ip'.
CREATE TABLE subscriber_acl (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	subscriber_id bigint NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	network       cidr NOT NULL,
	UNIQUE (subscriber_id, network)
);
-- "Which subscriber may send from this address?": network >>= source.
CREATE INDEX subscriber_acl_network_idx ON subscriber_acl USING gist (network inet_ops);

-- ---- aliases and DIDs --------------------------------------------------------

-- Another user part in a hosted domain that reaches a subscriber.
CREATE TABLE aliases (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	subscriber_id bigint NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	domain_id     bigint NOT NULL REFERENCES domains (id) ON DELETE RESTRICT,
	user_part     text NOT NULL CHECK (length(user_part) <= 64 AND
	                user_part ~ '^([A-Za-z0-9_.!~*''()&=+$,;?/-]|%[0-9A-Fa-f]{2})+$'),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	UNIQUE (domain_id, user_part)
);
CREATE INDEX aliases_subscriber_idx ON aliases (subscriber_id);

-- A telephone number (E.164, with the '+') that reaches a subscriber.
CREATE TABLE dids (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	subscriber_id bigint NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	number        text NOT NULL UNIQUE CHECK (number ~ '^\+[1-9][0-9]{1,14}$'),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dids_subscriber_idx ON dids (subscriber_id);

-- ---- dial plans --------------------------------------------------------------

CREATE TABLE dial_plans (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name        text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
	description text NOT NULL DEFAULT '' CHECK (length(description) <= 1024),
	created_at  timestamptz NOT NULL DEFAULT now(),
	updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The first entry (lowest position) whose pattern matches the request's
-- user part (or whole URI, as the router decides) gives the contact:
-- template with \1..\9 replaced by the pattern's groups.
CREATE TABLE dial_plan_entries (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	dial_plan_id bigint NOT NULL REFERENCES dial_plans (id) ON DELETE CASCADE,
	position     integer NOT NULL CHECK (position >= 0),
	-- ('' ~ pattern) compiles the pattern, so a pattern PostgreSQL cannot
	-- compile is refused at insert time. provd also compiles it with the
	-- router's own engine before storing it.
	pattern      text NOT NULL CHECK (length(pattern) BETWEEN 1 AND 1024 AND ('' ~ pattern) IS NOT NULL),
	contact_template text NOT NULL CHECK (length(contact_template) <= 1024 AND
	               contact_template ~ '^(sips?|tel):[^\x01-\x20\x7f]+$'),
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now(),
	-- Deferrable so that reordering entries in one transaction works.
	UNIQUE (dial_plan_id, position) DEFERRABLE INITIALLY IMMEDIATE
);

-- ---- location bindings (redirectd) -------------------------------------------

CREATE TABLE location_bindings (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- The AOR (RFC 3261 10.3): a subscriber is user_part@domain.
	subscriber_id bigint NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
	-- The Contact URI as registered (without the header's parameters).
	contact       text NOT NULL CHECK (length(contact) <= 2048 AND
	                contact ~ '^[A-Za-z][A-Za-z0-9+.-]*:[^\x01-\x20\x7f]+$'),
	q             numeric(4,3) NOT NULL DEFAULT 1 CHECK (q >= 0 AND q <= 1),
	-- Granted expiry in seconds and the moment it runs out; a binding with
	-- Expires 0 is deleted, never stored.
	expires       integer NOT NULL CHECK (expires > 0),
	expires_at    timestamptz NOT NULL,
	-- Call-ID and CSeq of the last REGISTER that touched the binding
	-- (RFC 3261 10.3 step 7: stale or replayed requests are refused).
	call_id       text NOT NULL CHECK (length(call_id) BETWEEN 1 AND 256),
	cseq          bigint NOT NULL CHECK (cseq >= 0 AND cseq < 2147483648),
	-- RFC 3327 Path header values, in order.
	path          text[] NOT NULL DEFAULT '{}',
	-- RFC 5626: +sip.instance (e.g. "<urn:uuid:...>") and reg-id. With
	-- both, the binding is identified by (AOR, instance, reg-id) rather
	-- than by its Contact URI.
	instance_id   text CHECK (length(instance_id) BETWEEN 1 AND 256),
	reg_id        integer CHECK (reg_id BETWEEN 1 AND 2147483647),
	-- Where the REGISTER came from (transport:address:port) and through
	-- which flow, for RFC 5626 and NAT handling; the User-Agent for people.
	received      text CHECK (length(received) <= 256),
	user_agent    text CHECK (length(user_agent) <= 256),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	CHECK (reg_id IS NULL OR instance_id IS NOT NULL)
);
-- One binding per (AOR, Contact URI), except RFC 5626 flows, which are
-- one per (AOR, instance, reg-id).
CREATE UNIQUE INDEX location_bindings_contact_key
	ON location_bindings (subscriber_id, contact) WHERE reg_id IS NULL;
CREATE UNIQUE INDEX location_bindings_flow_key
	ON location_bindings (subscriber_id, instance_id, reg_id) WHERE reg_id IS NOT NULL;
CREATE INDEX location_bindings_subscriber_idx ON location_bindings (subscriber_id, q DESC);
-- The expiry sweep: DELETE ... WHERE expires_at <= now().
CREATE INDEX location_bindings_expires_idx ON location_bindings (expires_at);

-- ---- triggers ------------------------------------------------------------------

CREATE TRIGGER domains_notify AFTER INSERT OR UPDATE OR DELETE ON domains
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change();
CREATE TRIGGER server_groups_notify AFTER INSERT OR UPDATE OR DELETE ON server_groups
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change();
CREATE TRIGGER servers_notify AFTER INSERT OR UPDATE OR DELETE ON servers
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change('group_id');
CREATE TRIGGER subscribers_notify AFTER INSERT OR UPDATE OR DELETE ON subscribers
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change('domain_id');
CREATE TRIGGER subscriber_acl_notify AFTER INSERT OR UPDATE OR DELETE ON subscriber_acl
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change('subscriber_id');
CREATE TRIGGER aliases_notify AFTER INSERT OR UPDATE OR DELETE ON aliases
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change('subscriber_id');
CREATE TRIGGER dids_notify AFTER INSERT OR UPDATE OR DELETE ON dids
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change('subscriber_id');
CREATE TRIGGER dial_plans_notify AFTER INSERT OR UPDATE OR DELETE ON dial_plans
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change();
CREATE TRIGGER dial_plan_entries_notify AFTER INSERT OR UPDATE OR DELETE ON dial_plan_entries
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change('dial_plan_id');
CREATE TRIGGER location_bindings_notify AFTER INSERT OR UPDATE OR DELETE ON location_bindings
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change('subscriber_id');

CREATE TRIGGER domains_touch BEFORE UPDATE ON domains
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();
CREATE TRIGGER server_groups_touch BEFORE UPDATE ON server_groups
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();
CREATE TRIGGER servers_touch BEFORE UPDATE ON servers
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();
CREATE TRIGGER subscribers_touch BEFORE UPDATE ON subscribers
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();
CREATE TRIGGER aliases_touch BEFORE UPDATE ON aliases
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();
CREATE TRIGGER dids_touch BEFORE UPDATE ON dids
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();
CREATE TRIGGER dial_plans_touch BEFORE UPDATE ON dial_plans
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();
CREATE TRIGGER dial_plan_entries_touch BEFORE UPDATE ON dial_plan_entries
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();
CREATE TRIGGER location_bindings_touch BEFORE UPDATE ON location_bindings
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();
