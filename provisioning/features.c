/* Subscribers' feature subscriptions (features.h). */
#include "provisioning/features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <postgresql/libpq-fe.h>

#include "feature/cpl_gen.h"
#include "feature/settings.h"
#include "provisioning/validate.h"

/* A subscription as the API shows it (the row's columns, unqualified, so
 * that SELECT and RETURNING share it). */
#define FEATURE_JSON                                                                           \
	"json_build_object('subscriber_id', subscriber_id, 'feature', feature, "               \
	"'side', (SELECT k.side FROM feature_kinds k WHERE k.name = feature), "                \
	"'admin_enabled', admin_enabled, 'user_enabled', user_enabled, "                       \
	"'active', admin_enabled AND user_enabled, 'locked', locked, 'group_id', group_id, "   \
	"'settings', settings, 'created_at', created_at, 'updated_at', updated_at)"

static const char *side_name(unsigned side)
{
	return side == FEATURE_CALLING ? "calling" : side == FEATURE_CALLED ? "called" : "both";
}

/* The path's {feature} as a kind, or -1 with 404 in resp. */
static int path_kind(struct api_call *c)
{
	int k = feature_kind_by_name(c->name);
	if (k < 0)
		http_fail(c->resp, 404, "Not found",
			  "no feature named %s (GET /api/v1/feature-kinds lists them)", c->name);
	return k;
}

void feature_kinds_list(struct api_call *c)
{
	struct api_params ps = {0};
	PGresult *r = api_query(c->resp,
				"SELECT json_build_object('items', coalesce(json_agg(json_build_object("
				"'name', name, 'side', side, 'position', position) ORDER BY position), "
				"'[]'))::text FROM feature_kinds",
				&ps);
	if (!r)
		return;
	http_json(c->resp, 200, PQgetvalue(r, 0, 0));
	PQclear(r);
}

void features_list(struct api_call *c)
{
	struct api_params ps = {0};
	api_param_num(&ps, c->id[0]);
	PGresult *r = api_query(
		c->resp,
		"SELECT json_build_object('items', coalesce(json_agg(" FEATURE_JSON
		"::jsonb || jsonb_build_object('etag', '\"' || " API_ETAG_SQL " || '\"') ORDER BY "
		"(SELECT k.position FROM feature_kinds k WHERE k.name = feature)), '[]'))::text, "
		"EXISTS (SELECT 1 FROM subscribers WHERE id = $1) FROM subscriber_features "
		"WHERE subscriber_id = $1",
		&ps);
	if (!r)
		return;
	if (strcmp(PQgetvalue(r, 0, 1), "t") != 0)
		http_fail(c->resp, 404, "Not found", "no subscriber with id %lld", c->id[0]);
	else
		http_json(c->resp, 200, PQgetvalue(r, 0, 0));
	PQclear(r);
}

void feature_get(struct api_call *c)
{
	if (path_kind(c) < 0)
		return;
	struct api_params ps = {0};
	api_param_num(&ps, c->id[0]);
	api_param(&ps, c->name);
	PGresult *r = api_query(c->resp,
				"SELECT " FEATURE_JSON "::text, " API_ETAG_SQL
				" FROM subscriber_features WHERE subscriber_id = $1 AND feature = $2",
				&ps);
	if (!r)
		return;
	if (PQntuples(r) == 0) {
		http_fail(c->resp, 404, "Not found", "subscriber %lld has no %s subscription", c->id[0],
			  c->name);
	} else {
		http_json(c->resp, 200, PQgetvalue(r, 0, 0));
		snprintf(c->resp->etag, sizeof(c->resp->etag), "\"%s\"", PQgetvalue(r, 0, 1));
	}
	PQclear(r);
}

/* ---- PUT ----------------------------------------------------------------------------- */

/* One subscription of the subscriber being changed, as stored. */
struct stored {
	int kind;
	bool admin, user, locked;
	long long group;
	const char *settings;         /* the column's text, in the result */
	const char *etag;
};

/* Does the If-Match list (api_if_match's form: "*" or tags without quotes,
 * comma-separated) name etag? */
static bool tag_matches(const char *list, const char *etag)
{
	if (strcmp(list, "*") == 0)
		return true;
	size_t n = strlen(etag);
	for (const char *t = list; *t;) {
		size_t len = strcspn(t, ",");
		if (len == n && strncmp(t, etag, n) == 0)
			return true;
		t += len + (t[len] == ',');
	}
	return false;
}

/* Checks and writes one subscription (inside the caller's transaction,
 * the subscriber's row locked). Returns the changed row's result (json,
 * etag, id), or NULL with the answer in resp. */
static PGresult *put_locked(struct api_call *c, int kind, const struct feature_in *in,
			    struct feature_settings *given, const char *tag, bool has_match)
{
	struct http_resp *resp = c->resp;
	PGresult *sub = NULL, *rows = NULL, *out = NULL;
	struct feature_settings *mine = NULL;
	char *settings_text = NULL;
	struct api_params ps = {0};
	api_param_num(&ps, c->id[0]);
	sub = api_query(resp,
		  "SELECT d.name, d.feature_group_id FROM subscribers s JOIN domains d ON "
		  "d.id = s.domain_id WHERE s.id = $1 FOR UPDATE OF s",
		  &ps);
	if (!sub)
		goto done;
	if (PQntuples(sub) == 0) {
		http_fail(resp, 404, "Not found", "no subscriber with id %lld", c->id[0]);
		goto done;
	}
	rows = api_query(resp,
		   "SELECT feature, admin_enabled, user_enabled, locked, group_id, settings::text, " API_ETAG_SQL
		   " FROM subscriber_features WHERE subscriber_id = $1",
		   &ps);
	if (!rows)
		goto done;
	int n = PQntuples(rows);
	struct stored st[FEATURE_KINDS];
	int ns = 0, cur = -1;
	for (int i = 0; i < n && ns < FEATURE_KINDS; i++) {
		int k = feature_kind_by_name(PQgetvalue(rows, i, 0));
		if (k < 0)
			continue;
		st[ns] = (struct stored){
			.kind = k,
			.admin = PQgetvalue(rows, i, 1)[0] == 't',
			.user = PQgetvalue(rows, i, 2)[0] == 't',
			.locked = PQgetvalue(rows, i, 3)[0] == 't',
			.group = atoll(PQgetvalue(rows, i, 4)),
			.settings = PQgetvalue(rows, i, 5),
			.etag = PQgetvalue(rows, i, 6),
		};
		if (k == kind)
			cur = ns;
		ns++;
	}
	const struct stored *now = cur >= 0 ? &st[cur] : NULL;
	const char *name = feature_kinds[kind].name;

	/* what the carrier left to the subscriber: the route's own_fields of a
	 * subscription it offers and did not lock */
	if (c->who.role == ROLE_SUBSCRIBER) {
		if (!now) {
			http_fail(resp, 403, "Forbidden",
				  "a subscriber may not subscribe to %s; the carrier offers features", name);
			goto done;
		}
		if (now->locked) {
			http_fail(resp, 403, "Forbidden", "%s is locked by the carrier", name);
			goto done;
		}
		if (!now->admin) {
			http_fail(resp, 403, "Forbidden", "%s is not offered by the carrier (admin_enabled is false)",
				  name);
			goto done;
		}
		const struct {
			unsigned bit;
			const char *field;
			bool same;
		} fixed[] = {
			{IN_ADMIN_ENABLED, "admin_enabled", in->admin_enabled == now->admin},
			{IN_LOCKED, "locked", in->locked == now->locked},
			{IN_GROUP_ID, "group_id", in->group_id == now->group},
		};
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
			if ((in->has & fixed[i].bit) && !(c->route->own_fields & fixed[i].bit) &&
			    !fixed[i].same) {
				http_fail(resp, 403, "Forbidden",
					  "a subscriber may not change %s; only user_enabled and settings",
					  fixed[i].field);
				goto done;
			}
		}
	}
	if (now && !has_match) {
		http_fail(resp, 428, "Precondition required",
			  "send If-Match with the ETag of a GET, so that changes do not overwrite each other");
		goto done;
	}
	if (now && !tag_matches(tag, now->etag)) {
		http_fail(resp, 412, "Precondition failed",
			  "the %s subscription changed since that ETag; GET it again", name);
		goto done;
	}
	if (!now && has_match) {
		http_fail(resp, 412, "Precondition failed",
			  "subscriber %lld has no %s subscription; leave If-Match out to create it",
			  c->id[0], name);
		goto done;
	}

	struct stored next = {
		.kind = kind,
		.admin = in->has & IN_ADMIN_ENABLED ? in->admin_enabled : now ? now->admin : true,
		.user = in->has & IN_USER_ENABLED ? in->user_enabled : now ? now->user : false,
		.locked = in->has & IN_LOCKED ? in->locked : now ? now->locked : false,
		.group = in->has & IN_GROUP_ID ? in->group_id
			 : now                 ? now->group
						 : atoll(PQgetvalue(sub, 0, 1)),
	};
	if (!next.group) {
		http_fail(resp, 400, "Missing field",
			  "group_id: not given, and domain %s has no default feature group "
			  "(feature_group_id); give group_id",
			  PQgetvalue(sub, 0, 0));
		goto done;
	}
	if (!now || (in->has & IN_GROUP_ID)) {
		struct api_params gp = {0};
		api_param_num(&gp, next.group);
		PGresult *g = api_query(resp, "SELECT kind FROM server_groups WHERE id = $1", &gp);
		if (!g)
			goto done;
		if (PQntuples(g) == 0 || strcmp(PQgetvalue(g, 0, 0), "feature") != 0) {
			if (PQntuples(g) == 0)
				http_fail(resp, 422, "Invalid field", "group_id: no server group with id %lld",
					  next.group);
			else
				http_fail(resp, 422, "Invalid field",
					  "group_id: server group %lld is of kind %s, not feature", next.group,
					  PQgetvalue(g, 0, 0));
			PQclear(g);
			goto done;
		}
		PQclear(g);
	}

	/* the settings the row will have (given, kept, or {} for a new one)
	 * must be valid for the kind once the subscription is active: the
	 * carrier may offer a forward before anyone chose its target, and
	 * switching it on without one is then the 422 */
	char err[512];
	if (!given && next.admin && next.user) {
		const char *text = now ? now->settings : "{}";
		mine = feature_settings_parse(kind, text, strlen(text), err, sizeof(err));
		if (!mine) {
			http_fail(resp, 422, "Invalid settings", "%s", err);
			goto done;
		}
	}

	/* the write and its audit entry */
	settings_text = in->settings ? json_dumps(in->settings, JSON_COMPACT) : NULL;
	if (in->settings && !settings_text) {
		http_fail(resp, 500, "Internal error", "out of memory");
		goto done;
	}
	struct api_params wp = {0};
	api_param_num(&wp, c->id[0]);
	api_param(&wp, name);
	api_param(&wp, next.admin ? "t" : "f");
	api_param(&wp, next.user ? "t" : "f");
	api_param(&wp, next.locked ? "t" : "f");
	api_param_num(&wp, next.group);
	api_param(&wp, settings_text ? settings_text : now ? NULL : "{}");
	char *summary = api_summary(&body_feature, in);
	out = api_change(c, "subscriber_features",
			 now ? "UPDATE subscriber_features SET admin_enabled = $3, user_enabled = $4, "
			       "locked = $5, group_id = $6, settings = coalesce($7::jsonb, settings) "
			       "WHERE subscriber_id = $1 AND feature = $2 RETURNING " FEATURE_JSON
			       "::text AS j, " API_ETAG_SQL " AS etag, id"
			     : "INSERT INTO subscriber_features (subscriber_id, feature, admin_enabled, "
			       "user_enabled, locked, group_id, settings) VALUES ($1, $2, $3, $4, $5, $6, "
			       "$7::jsonb) RETURNING " FEATURE_JSON "::text AS j, " API_ETAG_SQL " AS etag, id",
			 &wp, summary);
	free(summary);
	if (out && PQntuples(out) != 1) {
		http_fail(resp, 409, "Conflict", "the %s subscription changed meanwhile; try again", name);
		PQclear(out);
		out = NULL;
	} else if (out) {
		resp->status = now ? 200 : 201;
	}
done:
	free(settings_text);
	feature_settings_free(mine);
	if (rows)
		PQclear(rows);
	if (sub)
		PQclear(sub);
	return out;
}

void feature_put(struct api_call *c)
{
	struct http_resp *resp = c->resp;
	int kind = path_kind(c);
	if (kind < 0)
		return;
	struct feature_in in;
	struct feature_settings *given = NULL;
	struct problem p;
	if (api_parse_feature(c->req->body, c->req->len, kind, &in, &given, &p) < 0) {
		http_problem(resp, &p);
		return;
	}
	char tag[512] = "";
	bool has_match = http_header(c->req, "If-Match") != NULL;
	if (has_match)
		api_if_match(c->req, resp, tag, sizeof(tag));
	if (api_begin(resp) == 0) {
		int status = 0;
		PGresult *r = put_locked(c, kind, &in, given, tag, has_match);
		if (r)
			status = resp->status;
		if (!r)
			api_rollback();
		else if (api_commit(resp) < 0) {
			PQclear(r);
			r = NULL;
		}
		if (r) {
			http_json(resp, status, PQgetvalue(r, 0, 0));
			snprintf(resp->etag, sizeof(resp->etag), "\"%s\"", PQgetvalue(r, 0, 1));
			if (status == 201)
				snprintf(resp->location, sizeof(resp->location),
					 "/api/v1/subscribers/%lld/features/%s", c->id[0], c->name);
		}
		if (r)
			PQclear(r);
	}
	feature_settings_free(given);
	body_release(&body_feature, &in);
}

void feature_delete(struct api_call *c)
{
	if (path_kind(c) < 0)
		return;
	char tag[512];
	if (api_if_match(c->req, c->resp, tag, sizeof(tag)) < 0)
		return;
	struct api_params ps = {0};
	api_param_num(&ps, c->id[0]);
	api_param(&ps, c->name);
	api_param(&ps, tag);
	PGresult *r = api_change(c, "subscriber_features",
				 "DELETE FROM subscriber_features WHERE subscriber_id = $1 AND feature = $2 "
				 "AND ($3 = '*' OR " API_ETAG_SQL " = ANY(string_to_array($3, ','))) "
				 "RETURNING id",
				 &ps, NULL);
	if (!r)
		return;
	int n = PQntuples(r);
	PQclear(r);
	if (n) {
		c->resp->status = 204;
		return;
	}
	struct api_params ep = API_PARAMS(ps.v[0], ps.v[1]);
	r = api_query(c->resp,
		      "SELECT 1 FROM subscriber_features WHERE subscriber_id = $1 AND feature = $2", &ep);
	if (!r)
		return;
	if (PQntuples(r) == 0)
		http_fail(c->resp, 404, "Not found", "subscriber %lld has no %s subscription", c->id[0],
			  c->name);
	else
		http_fail(c->resp, 412, "Precondition failed",
			  "the %s subscription changed since that ETag; GET it again", c->name);
	PQclear(r);
}

/* ---- the generated script -------------------------------------------------------------- */

void feature_script(struct api_call *c)
{
	struct http_resp *resp = c->resp;
	int kind = path_kind(c);
	if (kind < 0)
		return;
	unsigned sides = feature_kinds[kind].sides, side;
	const char *q = http_query(c->req, "side");
	if (!q) {
		if (sides == FEATURE_BOTH) {
			http_fail(resp, 400, "Invalid query parameter",
				  "side: %s runs on both sides; give side=calling or side=called",
				  c->name);
			return;
		}
		side = sides;
	} else if (strcmp(q, "calling") == 0 || strcmp(q, "called") == 0) {
		side = q[4] == 'i' ? FEATURE_CALLING : FEATURE_CALLED;
		if (!(sides & side)) {
			http_fail(resp, 400, "Invalid query parameter", "side: %s runs on the %s side only",
				  c->name, side_name(sides));
			return;
		}
	} else {
		http_fail(resp, 400, "Invalid query parameter", "side: must be calling or called");
		return;
	}
	/* the hop's script, or the carrier-locked part that featured runs
	 * before a subscriber's own cpl script */
	const char *pq = http_query(c->req, "part");
	enum cpl_gen_part part = CPL_GEN_HOP;
	if (pq && strcmp(pq, "locked") == 0) {
		part = CPL_GEN_LOCKED;
	} else if (pq && strcmp(pq, "hop") != 0) {
		http_fail(resp, 400, "Invalid query parameter", "part: must be hop or locked");
		return;
	}

	struct api_params ps = {0};
	api_param_num(&ps, c->id[0]);
	api_param(&ps, c->name);
	PGresult *sub = api_query(resp,
				  "SELECT s.user_part, d.name, EXISTS (SELECT 1 FROM subscriber_features f "
				  "WHERE f.subscriber_id = s.id AND f.feature = $2) FROM subscribers s "
				  "JOIN domains d ON d.id = s.domain_id WHERE s.id = $1",
				  &ps);
	if (!sub)
		return;
	if (PQntuples(sub) == 0 || strcmp(PQgetvalue(sub, 0, 2), "t") != 0) {
		http_fail(resp, 404, "Not found", "subscriber %lld has no %s subscription", c->id[0],
			  c->name);
		PQclear(sub);
		return;
	}
	struct api_params ap = {0};
	api_param_num(&ap, c->id[0]);
	PGresult *rows = api_query(resp,
				   "SELECT feature, settings::text, locked FROM subscriber_features "
				   "WHERE subscriber_id = $1 AND admin_enabled AND user_enabled",
				   &ap);
	struct feature_settings *set[FEATURE_KINDS] = {0};
	bool locked[FEATURE_KINDS] = {0};
	unsigned n = 0;
	char err[512];
	char *buf = NULL;
	if (!rows)
		goto done;
	for (int i = 0; i < PQntuples(rows) && n < FEATURE_KINDS; i++) {
		int k = feature_kind_by_name(PQgetvalue(rows, i, 0));
		if (k < 0)
			continue;
		const char *text = PQgetvalue(rows, i, 1);
		set[n] = feature_settings_parse(k, text, strlen(text), err, sizeof(err));
		if (!set[n]) {
			http_fail(resp, 500, "Internal error", "stored settings refused: %s", err);
			goto done;
		}
		locked[n] = PQgetvalue(rows, i, 2)[0] == 't';
		n++;
	}
	struct cpl_gen_in in = {
		.user = PQgetvalue(sub, 0, 0),
		.domain = PQgetvalue(sub, 0, 1),
		.side = side,
		.features = (const struct feature_settings *const *)set,
		.n = n,
		.locked = locked,
		.part = part,
	};
	struct cpl_gen_out out;
	size_t cap = CPL_DEFAULT_MAX_BYTES + 1;
	buf = malloc(cap);
	if (!buf) {
		http_fail(resp, 500, "Internal error", "out of memory");
		goto done;
	}
	if (cpl_gen(&in, buf, cap, &out, err, sizeof(err)) < 0) {
		http_fail(resp, 500, "Internal error", "no script: %s", err);
		goto done;
	}
	free(resp->body);
	resp->body = NULL;
	if (out.len == 0) {
		/* nothing of this side is expressible in CPL: the hop runs no
		 * script; or no locked part runs before the hop's script */
		resp->status = 204;
	} else {
		resp->body = buf;
		buf = NULL;
		resp->status = 200;
		resp->type = "application/xml";
	}
done:
	free(buf);
	for (unsigned i = 0; i < n; i++)
		feature_settings_free(set[i]);
	if (rows)
		PQclear(rows);
	PQclear(sub);
}
