/* Web accounts, sessions and logins (session.h). */
#include "provisioning/session.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <jansson.h>
#include <postgresql/libpq-fe.h>
#include <sodium.h>

#include "guard.h"
#include "provisioning/validate.h"

static struct session_conf conf;
static char dummy_hash[crypto_pwhash_STRBYTES];
static struct guard *guard;
static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;

/* Interactive limits (2 passes over 64 MiB): a login costs a fraction of
 * a second, a guess as much. */
#define PWHASH_OPS crypto_pwhash_OPSLIMIT_INTERACTIVE
#define PWHASH_MEM crypto_pwhash_MEMLIMIT_INTERACTIVE

int session_init(const struct session_conf *c, char *err, size_t errlen)
{
	if (sodium_init() < 0) {
		snprintf(err, errlen, "libsodium cannot start");
		return -1;
	}
	conf = *c;
	/* an unknown login is checked against this, so that it takes as long
	 * as a wrong password */
	char pw[33];
	randombytes_buf(pw, 16);
	sodium_bin2hex(pw, sizeof(pw), (const unsigned char *)pw, 16);
	if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), PWHASH_OPS, PWHASH_MEM) != 0) {
		snprintf(err, errlen, "cannot hash a password (out of memory?)");
		return -1;
	}
	struct guard_config g;
	session_guard_config(&conf, &g);
	guard = guard_new(&g, err, errlen);
	return guard ? 0 : -1;
}

void session_guard_config(const struct session_conf *c, struct guard_config *g)
{
	guard_config_defaults(g);
	g->window = GUARD_WINDOW_SLIDING;
	g->window_ms = (uint32_t)c->address_window_ms;
	g->addr_limit = c->address_failures;
	g->addr_ban_ms = (uint32_t)c->address_block_ms;
	/* users here are logins that are no account (accounts lock in the
	 * database), counted as accounts are; IPv6 per /64 (the default) */
	g->user_limit = c->account_failures;
	g->user_ban_ms = (uint32_t)c->lock_ms;
	g->addr_capacity = 16384;
	g->user_capacity = 16384;
}

void session_shutdown(void)
{
	guard_free(guard);
	guard = NULL;
}

const char *session_origin(void)
{
	return conf.origin ? conf.origin : "";
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A login as logs may show it: printable ASCII, 64 bytes at most. */
static void printable(const char *in, char *out, size_t cap)
{
	size_t i = 0;
	for (; in[i] && i + 1 < cap && i < 64; i++)
		out[i] = in[i] > 0x20 && in[i] < 0x7f ? in[i] : '?';
	out[i] = 0;
}

static void hex_sha256(const char *in, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)in, strlen(in));
	sodium_bin2hex(out, 65, h, sizeof(h));
}

static char *hash_password(const char *pw, struct http_resp *resp)
{
	char *h = malloc(crypto_pwhash_STRBYTES);
	if (!h || crypto_pwhash_str(h, pw, strlen(pw), PWHASH_OPS, PWHASH_MEM) != 0) {
		free(h);
		http_fail(resp, 503, "Out of memory", "cannot hash the password now; try again");
		return NULL;
	}
	return h;
}

static bool password_matches(const char *hash, const char *pw)
{
	return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

static int parse(struct api_call *c, const struct body_spec *spec, void *in)
{
	struct problem p;
	if (body_parse(spec, c->req->body, c->req->len, true, in, &p) < 0) {
		http_problem(c->resp, &p);
		return -1;
	}
	return 0;
}

/* ---- who is asking ------------------------------------------------------------ */

int session_authenticate(struct api_call *c)
{
	memset(&c->who, 0, sizeof(c->who));
	if (c->req->bearer) {
		c->who.role = ROLE_TOKEN;
		if (c->req->token_name && c->req->token_name[0])
			snprintf(c->who.login, sizeof(c->who.login), "token:%s", c->req->token_name);
		else
			strcpy(c->who.login, "token");
		return 0;
	}
	if (c->req->auth_unavailable) {
		http_fail(c->resp, 503, "Database unavailable", "cannot check the token now; try again later");
		return -1;
	}
	char id[SESSION_ID_HEX + 1], hash[65], idle[24];
	if (cookie_session_id(http_header(c->req, "Cookie"), id) < 0)
		return 0;
	hex_sha256(id, hash);
	snprintf(idle, sizeof(idle), "%.3f", (double)conf.idle_ms / 1000);
	struct api_params ps = API_PARAMS(hash, idle);
	PGresult *r = api_query(
		c->resp,
		"UPDATE sessions s SET last_seen_at = now() FROM accounts a "
		"WHERE s.id_sha256 = $1 AND a.id = s.account_id AND a.enabled AND s.expires_at > now() "
		"AND NOT EXISTS (SELECT 1 FROM subscribers d WHERE d.id = a.subscriber_id AND NOT d.enabled) "
		"AND s.last_seen_at > now() - make_interval(secs => $2::float8) "
		"RETURNING a.id, a.login, a.role, coalesce(a.subscriber_id, 0), s.csrf_token",
		&ps);
	if (!r)
		return -1;
	if (PQntuples(r) == 1) {
		c->who.role = strcmp(PQgetvalue(r, 0, 2), "admin") == 0 ? ROLE_ADMIN : ROLE_SUBSCRIBER;
		c->who.cookie = true;
		c->who.account_id = atoll(PQgetvalue(r, 0, 0));
		c->who.subscriber_id = atoll(PQgetvalue(r, 0, 3));
		snprintf(c->who.login, sizeof(c->who.login), "%s", PQgetvalue(r, 0, 1));
		snprintf(c->who.csrf, sizeof(c->who.csrf), "%s", PQgetvalue(r, 0, 4));
		memcpy(c->who.session, hash, sizeof(c->who.session));
	}
	PQclear(r);
	return 0;
}

/* {"account": {...}, "csrf_token": "..."} */
static void session_reply(struct http_resp *resp, long long id, const char *login, const char *role,
			  long long subscriber_id, const char *csrf)
{
	json_t *doc = json_pack("{s:{s:I, s:s, s:s, s:o}, s:s}", "account", "id", (json_int_t)id,
				"login", login, "role", role, "subscriber_id",
				subscriber_id ? json_integer(subscriber_id) : json_null(), "csrf_token",
				csrf);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text) {
		http_fail(resp, 500, "Internal error", "out of memory");
		return;
	}
	free(resp->body);
	resp->body = text;
	resp->status = 200;
	resp->type = "application/json";
}

void session_get(struct api_call *c)
{
	session_reply(c->resp, c->who.account_id, c->who.login,
		      c->who.role == ROLE_ADMIN ? "admin" : "subscriber", c->who.subscriber_id,
		      c->who.csrf);
}

/* ---- logging in ------------------------------------------------------------------ */

static void too_many(struct api_call *c, const char *why, uint64_t wait_ms)
{
	unsigned secs = (unsigned)((wait_ms + 999) / 1000);
	http_fail(c->resp, 429, "Too many failed logins", "%s; try again in %u seconds", why, secs);
	c->resp->retry_after = secs ? secs : 1;
}

static void wrong(struct api_call *c)
{
	http_fail(c->resp, 401, "Login failed", "wrong login or password");
}

/* One more failure of the client's address and, for a login that is no
 * account, of that login. */
static void count_failure(struct api_call *c, const char *key, bool unknown)
{
	sip_str user = {unknown ? key : "", unknown ? strlen(key) : 0};
	pthread_mutex_lock(&guard_lock);
	unsigned bans = guard_auth_failed(guard, c->req->peer, user, (sip_str){"", 0}, now_ms());
	pthread_mutex_unlock(&guard_lock);
	if (bans & GUARD_ADDR)
		http_log(LOG_WARNING, "logins from %s blocked for %llu s: %u failures", c->req->peer_text,
			 (unsigned long long)conf.address_block_ms / 1000, conf.address_failures);
}

void session_login(struct api_call *c)
{
	struct login_in in;
	if (parse(c, &body_login, &in) < 0)
		return;
	char key[65], shown[65];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (char)tolower((unsigned char)in.login[i]);
	printable(in.login, shown, sizeof(shown));
	const char *from = c->req->peer_text;

	pthread_mutex_lock(&guard_lock);
	uint64_t now = now_ms();
	bool addr_blocked = c->req->peer && guard_addr_banned(guard, c->req->peer, now);
	bool login_blocked = guard_user_banned(guard, (sip_str){key, strlen(key)}, (sip_str){"", 0}, now);
	pthread_mutex_unlock(&guard_lock);
	if (addr_blocked || login_blocked) {
		http_log(LOG_WARNING, "login of %s from %s refused: too many failures from %s", shown,
			 from, addr_blocked ? "this address" : "this login");
		too_many(c, addr_blocked ? "too many failed logins from this address" :
					   "too many failed logins of this account",
			 addr_blocked ? conf.address_block_ms : conf.lock_ms);
		goto out;
	}

	struct api_params ps = API_PARAMS(in.login);
	PGresult *r = api_query(
		c->resp,
		"SELECT a.id, a.login, a.role, coalesce(a.subscriber_id, 0), a.password_hash, "
		"a.enabled AND coalesce(s.enabled, true), "
		"coalesce(ceil(extract(epoch FROM a.locked_until - now()) * 1000), 0)::bigint "
		"FROM accounts a LEFT JOIN subscribers s ON s.id = a.subscriber_id "
		"WHERE lower(a.login) = lower($1)",
		&ps);
	if (!r)
		goto out;
	if (PQntuples(r) == 0) {
		PQclear(r);
		password_matches(dummy_hash, in.password);
		count_failure(c, key, true);
		http_log(LOG_WARNING, "login failed: no account %s (from %s)", shown, from);
		wrong(c);
		goto out;
	}
	char id[24], login[65], role[16], hash[crypto_pwhash_STRBYTES];
	snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
	snprintf(login, sizeof(login), "%s", PQgetvalue(r, 0, 1));
	snprintf(role, sizeof(role), "%s", PQgetvalue(r, 0, 2));
	long long subscriber_id = atoll(PQgetvalue(r, 0, 3));
	snprintf(hash, sizeof(hash), "%s", PQgetvalue(r, 0, 4));
	bool enabled = strcmp(PQgetvalue(r, 0, 5), "t") == 0;
	long long locked_ms = atoll(PQgetvalue(r, 0, 6));
	PQclear(r);
	if (locked_ms > 0) {
		http_log(LOG_WARNING, "login of %s from %s refused: the account is locked", login, from);
		too_many(c, "too many failed logins of this account", (uint64_t)locked_ms);
		goto out;
	}
	if (!password_matches(hash, in.password) || !enabled) {
		char window[24], lock[24], limit[12];
		snprintf(window, sizeof(window), "%.3f", (double)conf.account_window_ms / 1000);
		snprintf(lock, sizeof(lock), "%.3f", (double)conf.lock_ms / 1000);
		snprintf(limit, sizeof(limit), "%u", conf.account_failures);
		struct api_params fp = API_PARAMS(id, window, limit, lock);
		/* the count restarts when the window has passed; at the limit the
		 * account locks, twice as long as the time before */
		r = api_query(
			c->resp,
			"UPDATE accounts a SET "
			"failed_logins = CASE WHEN n.c >= $3::int THEN 0 ELSE n.c END, "
			"first_failed_at = CASE WHEN n.c >= $3::int THEN NULL WHEN n.c = 1 THEN now() "
			"ELSE a.first_failed_at END, "
			"locked_until = CASE WHEN n.c >= $3::int THEN now() + make_interval(secs => "
			"least($4::float8 * power(2, least(a.lockouts, 20)), 86400)) ELSE a.locked_until END, "
			"lockouts = CASE WHEN n.c >= $3::int THEN a.lockouts + 1 ELSE a.lockouts END "
			"FROM (SELECT id, CASE WHEN first_failed_at > now() - make_interval(secs => $2::float8) "
			"THEN failed_logins + 1 ELSE 1 END AS c FROM accounts WHERE id = $1) n "
			"WHERE a.id = n.id RETURNING a.locked_until > now()",
			&fp);
		bool locked = r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
		PQclear(r);
		count_failure(c, key, false);
		http_log(LOG_WARNING, "login failed: %s for %s (from %s)%s",
			 enabled ? "wrong password" : "account or its subscriber disabled", login, from,
			 locked ? "; the account is locked now" : "");
		wrong(c);
		goto out;
	}

	/* in: a fresh session, and the old ones of every account trimmed */
	unsigned char raw[32];
	char sid[SESSION_ID_HEX + 1], csrf[CSRF_TOKEN_HEX + 1], sid_hash[65], life[24], idle[24];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(sid, sizeof(sid), raw, sizeof(raw));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(csrf, sizeof(csrf), raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	hex_sha256(sid, sid_hash);
	snprintf(life, sizeof(life), "%.3f", (double)conf.lifetime_ms / 1000);
	snprintf(idle, sizeof(idle), "%.3f", (double)conf.idle_ms / 1000);
	struct api_params sp = API_PARAMS(sid_hash, id, csrf, life, idle);
	r = api_query(c->resp,
		      "WITH gone AS (DELETE FROM sessions WHERE expires_at <= now() OR "
		      "last_seen_at <= now() - make_interval(secs => $5::float8)), "
		      "ok AS (UPDATE accounts SET failed_logins = 0, first_failed_at = NULL, lockouts = 0, "
		      "locked_until = NULL, last_login_at = now() WHERE id = $2::bigint) "
		      "INSERT INTO sessions (id_sha256, account_id, csrf_token, expires_at) "
		      "VALUES ($1, $2::bigint, $3, now() + make_interval(secs => $4::float8))",
		      &sp);
	if (!r)
		goto out;
	PQclear(r);
	pthread_mutex_lock(&guard_lock);
	guard_auth_ok(guard, c->req->peer, (sip_str){key, strlen(key)}, (sip_str){"", 0}, now_ms());
	pthread_mutex_unlock(&guard_lock);
	http_log(LOG_INFO, "login: %s (%s) from %s", login, role, from);
	session_reply(c->resp, atoll(id), login, role, subscriber_id, csrf);
	session_cookie(c->resp->set_cookie, sizeof(c->resp->set_cookie), sid, conf.cookie_secure);
	sodium_memzero(sid, sizeof(sid));
out:
	sodium_memzero(&in, sizeof(in));
}

void session_logout(struct api_call *c)
{
	if (c->who.cookie) {
		struct api_params ps = API_PARAMS(c->who.session);
		PGresult *r = api_query(c->resp, "DELETE FROM sessions WHERE id_sha256 = $1", &ps);
		if (!r)
			return;
		PQclear(r);
	}
	c->resp->status = 204;
	session_cookie(c->resp->set_cookie, sizeof(c->resp->set_cookie), NULL, conf.cookie_secure);
}

/* ---- passwords ------------------------------------------------------------------- */

/* Sets an account's password hash (and unlocks it), with its audit row;
 * ends its sessions but keep (the one changing its own password stays
 * in). 204 with the account's ETag, or 404. */
static void set_password(struct api_call *c, long long account, const char *pw, const char *keep)
{
	char *hash = hash_password(pw, c->resp);
	if (!hash)
		return;
	struct api_params ps = {0};
	api_param_num(&ps, account);
	api_param(&ps, hash);
	PGresult *r = api_change(
		c, "accounts",
		"UPDATE accounts SET password_hash = $2, failed_logins = 0, first_failed_at = NULL, "
		"lockouts = 0, locked_until = NULL WHERE id = $1 RETURNING " API_ETAG_SQL " AS etag, id",
		&ps, "{\"password\":\"set\"}");
	free(hash);
	if (!r)
		return;
	if (PQntuples(r) == 0) {
		http_fail(c->resp, 404, "Not found", "no account with id %lld", account);
		PQclear(r);
		return;
	}
	c->resp->status = 204;
	snprintf(c->resp->etag, sizeof(c->resp->etag), "\"%s\"", PQgetvalue(r, 0, 0));
	PQclear(r);
	/* whoever knew the old password is out */
	struct api_params ds = {0};
	api_param_num(&ds, account);
	api_param(&ds, keep ? keep : "");
	r = api_query(c->resp, "DELETE FROM sessions WHERE account_id = $1 AND id_sha256 <> $2", &ds);
	if (r) {
		PQclear(r);
		c->resp->status = 204;
	}
}

void session_password(struct api_call *c)
{
	struct own_password_in in;
	if (parse(c, &body_own_password, &in) < 0)
		return;
	struct api_params ps = {0};
	api_param_num(&ps, c->who.account_id);
	PGresult *r = api_query(c->resp, "SELECT password_hash FROM accounts WHERE id = $1", &ps);
	if (!r)
		goto out;
	bool ok = PQntuples(r) == 1 && password_matches(PQgetvalue(r, 0, 0), in.current_password);
	PQclear(r);
	if (!ok) {
		/* a guess like any other */
		count_failure(c, "", false);
		http_log(LOG_WARNING, "password change of %s from %s: wrong current password",
			 c->who.login, c->req->peer_text);
		http_fail(c->resp, 403, "Forbidden", "current_password is wrong");
		goto out;
	}
	set_password(c, c->who.account_id, in.new_password, c->who.session);
out:
	sodium_memzero(&in, sizeof(in));
}

void account_password(struct api_call *c)
{
	struct web_password_in in;
	if (parse(c, &body_web_password, &in) == 0)
		set_password(c, c->id[0], in.password, NULL);
	sodium_memzero(&in, sizeof(in));
}

/* ---- accounts ------------------------------------------------------------------------ */

#define ACCOUNT_JSON                                                                           \
	"json_build_object('id', id, 'login', login, 'role', role, 'subscriber_id', "          \
	"subscriber_id, 'enabled', enabled, 'locked_until', locked_until, 'last_login_at', "   \
	"last_login_at, 'created_at', created_at, 'updated_at', updated_at)"

/* The hash is never shown. A PATCH may change enabled (a disabled
 * account's sessions stop at once: session_authenticate checks it). */
const struct api_resource api_accounts = {
	.table = "accounts",
	.noun = "account",
	.json = ACCOUNT_JSON,
	.body = &body_account,
	.self = "/api/v1/accounts/",
	.filters = (const struct list_filter[]){
		{"subscriber", FILTER_ID, "subscriber_id = $?", NULL, NULL},
		{0},
	},
};

static bool valid_table_name(const char *s)
{
	return s[0] && strlen(s) <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz_") == strlen(s);
}

/* Oldest first, by id; ?resource=subscribers&resource_id=7 for one row's
 * history, ?account=N for one account's changes. */
const struct api_resource api_audit = {
	.table = "audit_log",
	.noun = "audit entry",
	.json = "json_build_object('id', id, 'at', at, 'account_id', account_id, 'actor', actor, "
		"'method', method, 'path', path, 'resource', resource, 'resource_id', resource_id, "
		"'summary', summary)",
	.filters = (const struct list_filter[]){
		{"resource", FILTER_TEXT, "resource = $?", valid_table_name, "a table name"},
		{"resource_id", FILTER_ID, "resource_id = $?", NULL, NULL},
		{"account", FILTER_ID, "account_id = $?", NULL, NULL},
		{0},
	},
};

void account_create(struct api_call *c)
{
	struct account_in in;
	if (parse(c, &body_account, &in) < 0)
		goto out;
	char *hash = hash_password(in.password, c->resp);
	if (!hash)
		goto out;
	struct api_params ps = {0};
	api_param(&ps, in.login);
	api_param(&ps, in.role);
	if (in.subscriber_id)
		api_param_num(&ps, (long long)in.subscriber_id);
	else
		api_param(&ps, NULL);
	api_param(&ps, hash);
	api_param(&ps, in.enabled ? "t" : "f");
	char *summary = api_summary(&body_account, &in);
	PGresult *r = api_change(c, "accounts",
				 "INSERT INTO accounts (login, role, subscriber_id, password_hash, enabled) "
				 "VALUES ($1, $2, $3::bigint, $4, $5::boolean) RETURNING " ACCOUNT_JSON
				 "::text AS j, " API_ETAG_SQL " AS etag, id",
				 &ps, summary);
	free(summary);
	free(hash);
	if (r) {
		api_row_reply(c->resp, r, 201, "account", "");
		snprintf(c->resp->location, sizeof(c->resp->location), "/api/v1/accounts/%s",
			 PQgetvalue(r, 0, 2));
		PQclear(r);
	}
out:
	sodium_memzero(&in, sizeof(in));
}

int account_upsert(struct pg_conn *conn, const char *login, long long subscriber_id,
		   const char *password, char *err, size_t errlen)
{
	const char *why = valid_login(login) ? web_password_policy(password) : "not a valid login";
	if (why) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	char hash[crypto_pwhash_STRBYTES], sid[24];
	if (sodium_init() < 0 ||
	    crypto_pwhash_str(hash, password, strlen(password), PWHASH_OPS, PWHASH_MEM) != 0) {
		snprintf(err, errlen, "cannot hash the password");
		return -1;
	}
	snprintf(sid, sizeof(sid), "%lld", subscriber_id);
	const char *params[] = {login, subscriber_id ? "subscriber" : "admin",
				subscriber_id ? sid : NULL, hash};
	PGresult *r = PQexecParams(
		conn,
		"WITH a AS (INSERT INTO accounts (login, role, subscriber_id, password_hash) "
		"VALUES ($1, $2, $3::bigint, $4) ON CONFLICT ((lower(login))) DO UPDATE SET "
		"password_hash = EXCLUDED.password_hash, enabled = true, failed_logins = 0, "
		"first_failed_at = NULL, lockouts = 0, locked_until = NULL "
		"WHERE accounts.role = EXCLUDED.role AND "
		"accounts.subscriber_id IS NOT DISTINCT FROM EXCLUDED.subscriber_id RETURNING id) "
		"INSERT INTO audit_log (actor, method, path, resource, resource_id, summary) "
		"SELECT 'provd --create', 'PUT', 'provd', 'accounts', id, '{\"password\":\"set\"}' FROM a "
		"RETURNING resource_id",
		4, NULL, params, NULL, NULL, 0);
	int rc = 0;
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errlen, "%s", PQerrorMessage(conn));
		rc = -1;
	} else if (PQntuples(r) != 1) {
		snprintf(err, errlen, "%s exists with another role or subscriber", login);
		rc = -1;
	}
	PQclear(r);
	sodium_memzero(hash, sizeof(hash));
	return rc;
}
