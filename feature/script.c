/*
 * A hop's features to what featured runs (see featured.h): the rows of
 * one subscriber, side and group; the script generated from their settings
 * by cpl_gen (or the subscriber's own cpl) compiled under the configured
 * limits, plus the native flags; with the subscriber's own cpl, also the
 * script of the carrier-locked features, which runs first; cached until
 * the rows change. Both scripts are interned by text: a carrier's locked
 * policy is one compiled script however many subscribers have it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "feature/featured.h"
#include "feature/intern.h"
#include "log.h"

#include "feature/cpl_gen.h"

#define MAX_HOP_ROWS 32

/* The generated script of the rows into e. */
static void generate(struct featured *f, struct feature_compiled *e, const struct feature_row *rows,
		     unsigned n, const char *user, const char *domain, unsigned side, sip_str call_id,
		     int64_t sub_id)
{
	struct feature_settings *parsed[MAX_HOP_ROWS];
	bool locked[MAX_HOP_ROWS];
	unsigned np = 0;
	char err[300];
	for (unsigned i = 0; i < n; i++) {
		int kind = feature_kind_by_name(rows[i].kind);
		if (kind < 0) {
			log_call(LOG_WARNING, call_id, "subscriber %" PRId64 ": unknown feature %s skipped",
				 sub_id, rows[i].kind);
			continue;
		}
		struct feature_settings *s = feature_settings_parse((enum feature_kind)kind, rows[i].settings,
								    rows[i].settings_len, err, sizeof(err));
		if (!s) {
			log_call(LOG_WARNING, call_id, "subscriber %" PRId64 ": %s skipped: %s", sub_id,
				 rows[i].kind, err);
			continue;
		}
		locked[np] = rows[i].locked;
		parsed[np++] = s;
	}
	struct cpl_gen_in in = {
		.user = user, .domain = domain, .side = (enum feature_side)side,
		.features = (const struct feature_settings *const *)parsed, .n = np,
		.voicemail_uri = f->conf->voicemail[0] ? f->conf->voicemail : NULL,
		.locked = locked,
	};
	size_t cap = CPL_DEFAULT_MAX_BYTES + 1;
	if (f->limits.max_bytes + 1 > cap)
		cap = f->limits.max_bytes + 1;
	char *buf = malloc(cap);
	struct cpl_gen_out out;
	if (!buf) {
		e->error = strdup("no memory");
	} else if (cpl_gen(&in, buf, cap, &out, err, sizeof(err)) < 0) {
		e->error = strdup(err);
	} else {
		e->caller_id_blocking = out.caller_id_blocking;
		e->call_return = out.call_return;
		if (out.note[0])
			log_call(LOG_INFO, call_id, "subscriber %" PRId64 ": %s", sub_id, out.note);
		if (out.len) {
			e->shared = script_intern_get(f->intern, buf, out.len, &f->limits, f->limits_gen,
						      &e->script, err, sizeof(err));
			if (!e->shared)
				e->error = strdup(err);
		}
		if (e->script && out.raw) {
			in.part = CPL_GEN_LOCKED;
			/* The locked part failing must not let the subscriber's
			 * script run alone: the hop then runs without scripts,
			 * as for any script that is not usable. */
			if (cpl_gen(&in, buf, cap, &out, err, sizeof(err)) < 0) {
				e->error = strdup(err);
			} else if (out.len) {
				e->locked_shared = script_intern_get(f->intern, buf, out.len, &f->limits,
								     f->limits_gen, &e->locked, err,
								     sizeof(err));
				if (!e->locked_shared)
					e->error = strdup(err);
			}
			if (e->error) {
				script_intern_put(e->shared);
				e->shared = NULL;
				e->script = NULL;
			}
		}
	}
	free(buf);
	for (unsigned i = 0; i < np; i++)
		feature_settings_free(parsed[i]);
}

struct feature_compiled *featured_compiled(struct featured *f, int64_t sub_id, const char *user,
					   const char *domain, unsigned side, int64_t group_id,
					   sip_str call_id)
{
	uint32_t version = feature_table_version(f->table, sub_id);
	if (!version)
		return NULL;
	struct feature_compiled *e = feature_cache_get(f->cache, sub_id, side, group_id, version);
	if (e)
		return e;
	struct feature_row rows[MAX_HOP_ROWS];
	unsigned n = feature_table_get(f->table, sub_id, side, group_id, rows, MAX_HOP_ROWS);
	if (!n)
		return NULL;
	if (!(e = calloc(1, sizeof(*e))))
		return NULL;
	generate(f, e, rows, n, user, domain, side, call_id, sub_id);
	if (e->script)
		f->stats.scripts_compiled++;
	if (e->error) {
		f->stats.script_errors++;
		log_call(LOG_WARNING, call_id, "subscriber %" PRId64 ": script not usable, running without it: %s",
			 sub_id, e->error);
	}
	feature_cache_put(f->cache, e, sub_id, side, group_id, version);
	return e;
}
