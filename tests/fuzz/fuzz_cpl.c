/*
 * libFuzzer target: CPL scripts (cpl_compile, cpl_run, cpl_free;
 * feature/cpl.h). The input is one script, untrusted XML as a user would
 * upload it.
 *
 * Properties (__builtin_trap when broken):
 *
 *  - compiling never crashes, and a refusal leaves nothing allocated
 *    (LeakSanitizer) with a one-line, non-empty message;
 *  - a compiled script runs to an end for a few fixed calls (incoming and
 *    outgoing, outcomes cycling through every proxy and lookup result),
 *    never executing more nodes than the script has - sub only names
 *    earlier subactions, so no path visits a node twice - and stops only
 *    for a full location set;
 *  - cpl_free releases everything.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature/cpl.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct sim {
	unsigned turn;
};

static const char *const found[] = {"sip:a@one.example", "sip:b@two.example",
				    "tel:+19005551212"};

static enum cpl_lookup_status sim_lookup(void *ctx, const char *source, unsigned timeout,
					 const char *const **urls, unsigned *n)
{
	struct sim *s = ctx;
	*urls = found;
	*n = 3;
	return (enum cpl_lookup_status)(s->turn++ % 3);
}

static enum cpl_proxy_status sim_proxy(void *ctx, const struct cpl_proxy_request *req,
				       const char *const **urls, unsigned *n)
{
	struct sim *s = ctx;
	CHECK(req->n > 0 && req->locations);
	for (unsigned i = 0; i < req->n; i++)
		CHECK(req->locations[i].url != NULL);
	*urls = found;
	*n = 2;
	return (enum cpl_proxy_status)(s->turn++ % 5);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct cpl_script *s = cpl_compile((const char *)data, size, NULL, err, sizeof(err));
	if (!s) {
		CHECK(err[0] != 0);
		CHECK(!strchr(err, '\n'));
		return 0;
	}
	static const char *const uris[] = {"sip:anonymous@example.com", "sip:boss@example.com",
					   "tel:+1-900-555-1212", "sips:x@[2001:db8::1]:5061"};
	static const time_t times[] = {962629200, 1710163800, 1730727000, 1700000000};
	for (unsigned k = 0; k < 8; k++) {
		struct sip_uri from, to;
		struct sip_error e;
		const char *f = uris[k % 4], *t = uris[(k + 1) % 4];
		CHECK(sip_uri_parse(&from, f, strlen(f), &e) == 0);
		CHECK(sip_uri_parse(&to, t, strlen(t), &e) == 0);
		struct cpl_call c = {
			.outgoing = k & 1,
			.origin = {&from, SIP_STR_LIT("Boss Smith")},
			.destination = {&to, SIP_STR_NULL},
			.original_destination = {&to, SIP_STR_NULL},
			.subject = SIP_STR_LIT("hello"),
			.user_agent = SIP_STR_LIT("Inadequate Software SIP User Agent/0.9beta2"),
			.accept_language = k & 2 ? SIP_STR_LIT("es, en;q=0") : SIP_STR_NULL,
			.priority = k & 4 ? SIP_STR_LIT("emergency") : SIP_STR_NULL,
			.now = times[k % 4],
		};
		struct sim sim = {k};
		struct cpl_outcome_src src = {&sim, sim_lookup, sim_proxy};
		static struct cpl_result r;
		int rc = cpl_run(s, &c, &src, &r);
		CHECK(r.steps <= cpl_node_count(s));
		if (rc) {
			CHECK(r.verdict == CPL_ERROR);
			CHECK(strstr(r.error, "location set is larger"));
		} else {
			CHECK(r.verdict != CPL_ERROR);
		}
		CHECK(r.n_locations <= CPL_DEFAULT_MAX_LOCATIONS);
	}
	cpl_free(s);
	return 0;
}
