/*
 * libFuzzer target: subscribers' feature settings and the CPL generated
 * from them (feature_settings_parse, cpl_gen; feature/settings.h,
 * feature/cpl_gen.h), then cpl_compile and cpl_run of the result.
 *
 * Input: one flags byte (bit 0: the calling side, else the called side;
 * bit 1: no default voicemail URI configured; bit 2: no subscriber domain),
 * then records separated by NUL bytes, each a kind byte (modulo the number
 * of kinds) followed by that feature's settings JSON.
 *
 * Properties (__builtin_trap when broken):
 *
 *  - parsing never crashes; a refusal has a one-line, non-empty message
 *    that starts with the feature's name, and leaves nothing allocated;
 *  - accepted settings always generate (cpl_gen never fails with a buffer
 *    of CPL_DEFAULT_MAX_BYTES + 1, except for a bare target when no domain
 *    is given, which it must then name);
 *  - every generated script is accepted by cpl_compile with the default
 *    limits, and runs to an end for a few calls with outcomes cycling
 *    through every proxy and lookup result, never visiting more nodes than
 *    it has;
 *  - a generated (not raw) script has the action of its side only.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "feature/cpl.h"
#include "feature/cpl_gen.h"
#include "feature/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sim {
	unsigned turn;
};

static const char *const found[] = {"sip:bob@vocal.test"};

static enum cpl_lookup_status sim_lookup(void *ctx, const char *source, unsigned timeout,
					 const char *const **urls, unsigned *n)
{
	struct sim *s = ctx;
	*urls = found;
	*n = 1;
	return (enum cpl_lookup_status)(s->turn++ % 3);
}

static enum cpl_proxy_status sim_proxy(void *ctx, const struct cpl_proxy_request *req,
				       const char *const **urls, unsigned *n)
{
	struct sim *s = ctx;
	CHECK(req->n > 0 && req->locations);
	*urls = found;
	*n = 1;
	return (enum cpl_proxy_status)(s->turn++ % 5);
}

static void run_calls(const struct cpl_script *s, bool outgoing)
{
	static const char *const uris[] = {"sip:anonymous@anonymous.invalid",
					   "sip:+12125550100@vocal.test;user=phone",
					   "tel:+1-900-555-1212", "sip:alice@a.example.com"};
	static const time_t times[] = {1711956600, 1711792800, 1730100600, 1700000000};
	for (unsigned k = 0; k < 4; k++) {
		struct sip_uri from, to;
		struct sip_error e;
		const char *f = uris[k], *t = uris[(k + 2) % 4];
		CHECK(sip_uri_parse(&from, f, strlen(f), &e) == 0);
		CHECK(sip_uri_parse(&to, t, strlen(t), &e) == 0);
		struct cpl_call c = {
			.outgoing = outgoing,
			.origin = {&from, SIP_STR_NULL},
			.destination = {&to, SIP_STR_NULL},
			.original_destination = {&to, SIP_STR_NULL},
			.now = times[k],
		};
		const char *init[] = {t};
		if (outgoing) {
			c.initial_locations = init;
			c.n_initial_locations = 1;
		}
		struct sim sim = {k};
		struct cpl_outcome_src src = {&sim, sim_lookup, sim_proxy};
		static struct cpl_result r;
		int rc = cpl_run(s, &c, &src, &r);
		CHECK(r.steps <= cpl_node_count(s));
		if (rc)
			CHECK(strstr(r.error, "location set is larger"));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	struct feature_settings *f[FEATURE_KINDS];
	unsigned n = 0;
	bool seen[FEATURE_KINDS] = {false};
	while (p < end && n < FEATURE_KINDS) {
		const char *nul = memchr(p, 0, (size_t)(end - p));
		const char *rec_end = nul ? nul : end;
		if (rec_end > p) {
			enum feature_kind kind = (enum feature_kind)((uint8_t)*p % FEATURE_KINDS);
			char err[300];
			struct feature_settings *s = feature_settings_parse(
				kind, p + 1, (size_t)(rec_end - p - 1), err, sizeof(err));
			if (!s) {
				CHECK(err[0] != 0);
				CHECK(!strchr(err, '\n'));
				CHECK(!strncmp(err, feature_kinds[kind].name,
					       strlen(feature_kinds[kind].name)));
			} else if (seen[kind]) {
				feature_settings_free(s);
			} else {
				CHECK(s->kind == kind);
				seen[kind] = true;
				f[n++] = s;
			}
		}
		p = rec_end + 1;
	}

	enum feature_side side = flags & 1 ? FEATURE_CALLING : FEATURE_CALLED;
	/* flags' high bits: which features the carrier locked */
	bool locked[FEATURE_KINDS];
	for (unsigned i = 0; i < n; i++)
		locked[i] = (flags >> (3 + i % 5)) & 1;
	struct cpl_gen_in in = {
		.user = "bob",
		.domain = flags & 4 ? NULL : "vocal.test",
		.side = side,
		.features = (const struct feature_settings *const *)f,
		.n = n,
		.voicemail_uri = flags & 2 ? NULL : "sip:vm@voicemail.vocal.test",
		.locked = locked,
	};
	static char buf[CPL_DEFAULT_MAX_BYTES + 1];
	struct cpl_gen_out out;
	char err[300];
	int rc = cpl_gen(&in, buf, sizeof(buf), &out, err, sizeof(err));
	if (rc) {
		CHECK(!in.domain);
		CHECK(strstr(err, "a bare target needs the subscriber's domain"));
	} else if (out.len) {
		CHECK(strlen(buf) == out.len);
		struct cpl_script *s = cpl_compile(buf, out.len, NULL, err, sizeof(err));
		if (!s)
			fprintf(stderr, "generated script refused: %s\n%s\n", err, buf);
		CHECK(s != NULL);
		if (!out.raw) {
			CHECK(cpl_has_incoming(s) == (side == FEATURE_CALLED));
			CHECK(cpl_has_outgoing(s) == (side == FEATURE_CALLING));
		}
		run_calls(s, side == FEATURE_CALLING);
		cpl_free(s);
		/* beside a raw script, the locked part: generated, of the side */
		bool raw = out.raw;
		in.part = CPL_GEN_LOCKED;
		CHECK(cpl_gen(&in, buf, sizeof(buf), &out, err, sizeof(err)) == 0);
		CHECK(raw || out.len == 0);
		if (out.len) {
			CHECK(!out.raw);
			s = cpl_compile(buf, out.len, NULL, err, sizeof(err));
			if (!s)
				fprintf(stderr, "locked part refused: %s\n%s\n", err, buf);
			CHECK(s != NULL);
			CHECK(cpl_has_incoming(s) == (side == FEATURE_CALLED));
			CHECK(cpl_has_outgoing(s) == (side == FEATURE_CALLING));
			run_calls(s, side == FEATURE_CALLING);
			cpl_free(s);
		}
	}
	for (unsigned i = 0; i < n; i++)
		feature_settings_free(f[i]);
	return 0;
}
