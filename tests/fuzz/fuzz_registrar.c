/*
 * libFuzzer target: REGISTER processing (redirect/registrar.c) on whatever
 * message parses, against a location service that keeps what earlier
 * inputs registered (so refreshes, removals and limits meet real state).
 *
 * Properties (a broken one traps):
 *  - the status is one the registrar may give (200, 400, 420, 423, 403,
 *    500) and the header lines fit the buffer, NUL-terminated, each ending
 *    in CRLF;
 *  - a failed request changes nothing (the AOR's bindings are the same
 *    before and after);
 *  - the AOR never holds more bindings than max_contacts, unless it
 *    already did before (a lowered limit), and the list is ordered by q;
 *  - the 302 rendering lists at most as many Contacts as there are
 *    bindings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redirect/location.h"
#include "redirect/registrar.h"
#include "sip/msg.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static int64_t clock_now = 1800000000;
static int64_t fake_now(void *arg)
{
	(void)arg;
	return clock_now;
}

/* A fingerprint of an AOR's bindings: count and a hash of their text. */
static uint64_t fingerprint(const struct location *loc, int64_t id, size_t *n)
{
	uint64_t h = 1469598103934665603ull;
	*n = 0;
	for (const struct binding *b = location_lookup(loc, id); b; b = b->next) {
		sip_str c = binding_str(b, BINDING_CONTACT);
		for (size_t i = 0; i < c.len; i++)
			h = (h ^ (uint8_t)c.s[i]) * 1099511628211ull;
		h = (h ^ b->cseq ^ ((uint64_t)b->q << 32) ^ (uint64_t)b->expires_at) * 1099511628211ull;
		(*n)++;
	}
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct location *loc;
	if (!loc) {
		struct location_opts o = {.now = fake_now};
		loc = location_new(&o);
		CHECK(loc);
	}
	clock_now += 7; /* time passes between requests: bindings expire */
	struct sip_msg m;
	if (sip_msg_parse(&m, (const char *)data, size, NULL, NULL) < 0 || sip_msg_check(&m, NULL) < 0 ||
	    !m.is_request || m.method_id != SIP_METHOD_REGISTER) {
		sip_msg_free(&m);
		return 0;
	}
	struct registrar_config cfg;
	registrar_config_default(&cfg);
	cfg.max_contacts = 4;
	int64_t id = 1 + (int64_t)(size % 3); /* a few AORs */
	location_expire(loc);
	size_t before_n;
	uint64_t before = fingerprint(loc, id, &before_n);
	char extra[2048];
	memset(extra, 'x', sizeof(extra));
	struct registrar_result res;
	unsigned st = registrar_register(loc, &cfg, id, &m, SIP_STR_LIT("udp:192.0.2.1:5060"), extra,
					 sizeof(extra), &res);
	CHECK(st == res.status);
	CHECK(st == 200 || st == 400 || st == 403 || st == 420 || st == 423 || st == 500);
	CHECK(res.extra_len < sizeof(extra) && extra[res.extra_len] == 0 && strlen(extra) == res.extra_len);
	CHECK(res.extra_len == 0 || (res.extra_len >= 2 && memcmp(extra + res.extra_len - 2, "\r\n", 2) == 0));
	size_t after_n;
	uint64_t after = fingerprint(loc, id, &after_n);
	if (st != 200)
		CHECK(after == before && after_n == before_n);
	CHECK(after_n <= cfg.max_contacts || after_n <= before_n);
	uint16_t q = 1000;
	for (const struct binding *b = location_lookup(loc, id); b; b = b->next) {
		CHECK(b->q <= q);
		q = b->q;
	}
	char out[4096];
	size_t len;
	unsigned count;
	registrar_contacts_302(loc, id, NULL, NULL, out, sizeof(out), &len, &count);
	CHECK(count <= after_n && len < sizeof(out));
	sip_msg_free(&m);
	return 0;
}
