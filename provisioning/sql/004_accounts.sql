-- Web accounts, their sessions, and the audit log of provisioning changes
-- (issue 5). provd (provisioning/session.c) is the only writer.

-- ---- accounts ----------------------------------------------------------------

-- A carrier administrator, or a subscriber's own web login. Passwords are
-- Argon2id hashes in libsodium's crypto_pwhash_str format ($argon2id$...),
-- never the password.
CREATE TABLE accounts (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- Compared case-insensitively (the unique index below).
	login         text NOT NULL CHECK (login ~ '^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$'),
	role          text NOT NULL CHECK (role IN ('admin', 'subscriber')),
	-- A subscriber's login goes with its subscriber.
	subscriber_id bigint REFERENCES subscribers (id) ON DELETE CASCADE,
	password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%' AND length(password_hash) < 256),
	enabled       boolean NOT NULL DEFAULT true,
	-- Failed logins since first_failed_at (a window of 15 minutes); at 5
	-- the account is locked until locked_until, for longer each time
	-- (lockouts counts them; a successful login resets all four).
	failed_logins integer NOT NULL DEFAULT 0,
	first_failed_at timestamptz,
	lockouts      integer NOT NULL DEFAULT 0,
	locked_until  timestamptz,
	last_login_at timestamptz,
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now(),
	CHECK ((role = 'subscriber') = (subscriber_id IS NOT NULL))
);
CREATE UNIQUE INDEX accounts_login_key ON accounts (lower(login));
CREATE INDEX accounts_subscriber_idx ON accounts (subscriber_id);

CREATE TRIGGER accounts_notify AFTER INSERT OR UPDATE OR DELETE ON accounts
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change();
CREATE TRIGGER accounts_touch BEFORE UPDATE ON accounts
	FOR EACH ROW EXECUTE FUNCTION vocal_touch();

-- ---- sessions ----------------------------------------------------------------

-- A web session: the cookie holds 256 random bits, the table only their
-- SHA-256, so that a read of the table gives no session away. In the
-- database rather than in one provd's memory: several provd may serve the
-- same GUI, and a restart logs nobody out. Expired rows are deleted at
-- each login. No vocal_notify_change or vocal_touch trigger: a session
-- changes at every request, and no daemon caches them.
CREATE TABLE sessions (
	id_sha256     text PRIMARY KEY CHECK (id_sha256 ~ '^[0-9a-f]{64}$'),
	account_id    bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	-- Sent back in X-CSRF-Token with every state-changing request.
	csrf_token    text NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	last_seen_at  timestamptz NOT NULL DEFAULT now(),
	-- The absolute end (session.lifetime); the idle end is last_seen_at
	-- plus session.idle_timeout.
	expires_at    timestamptz NOT NULL
);
CREATE INDEX sessions_account_idx ON sessions (account_id);

-- ---- audit log ---------------------------------------------------------------

-- One row per change made through the API, written by the statement that
-- makes the change (the same transaction). summary holds the members the
-- request gave, never a password. Append-only: no triggers.
CREATE TABLE audit_log (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at            timestamptz NOT NULL DEFAULT now(),
	-- The account, or NULL with actor 'token' for the bearer token.
	account_id    bigint REFERENCES accounts (id) ON DELETE SET NULL,
	actor         text NOT NULL,
	method        text NOT NULL,
	path          text NOT NULL,
	resource      text NOT NULL,
	resource_id   bigint,
	summary       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_resource_idx ON audit_log (resource, resource_id);
