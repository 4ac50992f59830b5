/*
 * libFuzzer target: Authorization / WWW-Authenticate values
 * (sip_auth_parse, common/sip/auth.h).
 *
 * The input is one credentials or challenge value, parsed with an arena
 * that may grow and with one that may not. Properties (__builtin_trap when
 * broken):
 *
 *  - a failure names a fault; running out of memory is NO_MEMORY, never
 *    another fault, never ignored;
 *  - Digest fields picked out are parameters of the list, and only Digest
 *    gets them picked out;
 *  - every slice lies inside the value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/auth.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void inside(sip_str s, const char *buf, size_t len)
{
	CHECK(!s.s || (s.s >= buf && s.s + s.len <= buf + len));
}

static void walk(const struct sip_auth *au, const char *buf, size_t len)
{
	const sip_str *fields[] = {&au->username, &au->realm, &au->nonce, &au->uri,
				   &au->response, &au->algorithm, &au->cnonce, &au->opaque,
				   &au->qop, &au->nc, &au->stale, &au->domain, &au->userhash};
	inside(au->scheme, buf, len);
	CHECK(au->scheme.len > 0);
	for (const struct sip_param *p = au->params; p; p = p->next) {
		inside(p->name, buf, len);
		inside(p->value, buf, len);
		CHECK(p->name.len > 0 && sip_str_present(p->value));
	}
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		inside(*fields[i], buf, len);
		CHECK(au->digest || !sip_str_present(*fields[i]));
	}
	if (sip_str_present(au->realm))
		CHECK(sip_param_find(au->params, "realm") != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	CHECK(buf);
	if (size)
		memcpy(buf, data, size);
	sip_str value = sip_str_make(buf, size);
	struct arena *a = malloc(sizeof(*a));
	CHECK(a);

	arena_init(a, 0);
	struct sip_auth au;
	memset(&au, 0, sizeof(au));
	struct sip_error err = {.base = buf};
	int r = sip_auth_parse(value, a, &au, "Authorization", &err);
	CHECK(r == 0 || err.fault != SIP_FAULT_NONE);
	if (r == 0)
		walk(&au, buf, size);
	arena_free(a);

	arena_init(a, 1); /* no block beyond the inline one */
	struct sip_auth capped;
	memset(&capped, 0, sizeof(capped));
	struct sip_error cerr = {.base = buf};
	int rc = sip_auth_parse(value, a, &capped, "WWW-Authenticate", &cerr);
	if (rc == 0)
		CHECK(r == 0 && capped.digest == au.digest);
	else if (cerr.fault != SIP_FAULT_NO_MEMORY)
		CHECK(r < 0 && cerr.fault == err.fault && cerr.offset == err.offset);
	arena_free(a);
	free(a);
	free(buf);
	return 0;
}
