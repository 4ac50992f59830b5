-- 006_api_tokens: named API tokens for scripts (issue 5).
--
-- Before this, scripts had one bearer token, set in provd.conf
-- (api.token_sha256): shared by every script, revocable only by editing the
-- configuration of every provd, and named "token" in the audit log. Here
-- an administrator makes as many as needed (POST /api/v1/tokens), each with
-- a name the audit log shows ("token:billing-sync"), an optional expiry,
-- and a revocation that takes effect on the next request (every provd
-- reads this table).
--
-- As with sessions, only the SHA-256 of the token is kept: whoever reads
-- the database cannot use a token. The token itself (256 random bits) is
-- shown once, in the answer to its creation.
CREATE TABLE api_tokens (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name          text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$'),
	token_sha256  text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
	-- who made it: an account (NULL once deleted) and its login then
	created_by    bigint REFERENCES accounts (id) ON DELETE SET NULL,
	created_by_login text NOT NULL,
	-- NULL: no expiry
	expires_at    timestamptz,
	-- updated at most once a minute (a write per request would cost more
	-- than the request)
	last_used_at  timestamptz,
	enabled       boolean NOT NULL DEFAULT true,
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX api_tokens_name_idx ON api_tokens (lower(name));

-- provd reads this table on every request with a token; no daemon caches
-- it, but the NOTIFY keeps the rule that every change is announced. Using
-- a token (last_used_at) is no change: no NOTIFY, and the ETag stays, so
-- an administrator's If-Match does not fail because a script ran.
CREATE TRIGGER api_tokens_notify AFTER INSERT OR DELETE ON api_tokens
	FOR EACH ROW EXECUTE FUNCTION vocal_notify_change();
CREATE TRIGGER api_tokens_notify_update AFTER UPDATE ON api_tokens
	FOR EACH ROW WHEN ((OLD.name, OLD.enabled, OLD.expires_at) IS DISTINCT FROM
	                   (NEW.name, NEW.enabled, NEW.expires_at))
	EXECUTE FUNCTION vocal_notify_change();
CREATE TRIGGER api_tokens_touch BEFORE UPDATE ON api_tokens
	FOR EACH ROW WHEN ((OLD.name, OLD.enabled, OLD.expires_at) IS DISTINCT FROM
	                   (NEW.name, NEW.enabled, NEW.expires_at))
	EXECUTE FUNCTION vocal_touch();
