/*
 * libFuzzer target: Via header values (sip_via_parse, common/sip/via.h).
 *
 * The input is one Via value, parsed twice: with an arena that may grow,
 * and with one that may not (only its inline block), which drives the
 * out-of-memory paths. Properties (__builtin_trap when broken):
 *
 *  - a failure always names a fault; running out of memory is reported
 *    as SIP_FAULT_NO_MEMORY and never as anything else, nor ignored: the
 *    capped parse fails exactly like the free one, or with NO_MEMORY;
 *  - every slice of every via-parm lies inside the value; well-known
 *    parameters agree with the parameter list.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/via.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void inside(sip_str s, const char *buf, size_t len)
{
	CHECK(!s.s || (s.s >= buf && s.s + s.len <= buf + len));
}

static void walk(const struct sip_via *list, const char *buf, size_t len)
{
	for (const struct sip_via *v = list; v; v = v->next) {
		inside(v->text, buf, len);
		inside(v->protocol, buf, len);
		inside(v->version, buf, len);
		inside(v->transport, buf, len);
		inside(v->host, buf, len);
		inside(v->branch, buf, len);
		inside(v->received, buf, len);
		inside(v->maddr, buf, len);
		CHECK(v->host.len > 0);
		for (const struct sip_param *p = v->params; p; p = p->next) {
			inside(p->name, buf, len);
			inside(p->value, buf, len);
		}
		/* branch is picked out of the parameter list */
		if (sip_str_present(v->branch))
			CHECK(sip_param_find(v->params, "branch") != NULL);
		(void)sip_via_branch_is_rfc3261(v);
	}
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
	struct sip_via *list = NULL;
	struct sip_error err = {.base = buf};
	int r = sip_via_parse(value, a, &list, &err);
	CHECK(r == 0 || err.fault != SIP_FAULT_NONE);
	if (r == 0)
		walk(list, buf, size);
	arena_free(a);

	arena_init(a, 1); /* no block beyond the inline one */
	struct sip_via *capped = NULL;
	struct sip_error cerr = {.base = buf};
	int rc = sip_via_parse(value, a, &capped, &cerr);
	if (rc == 0)
		CHECK(r == 0);
	else if (cerr.fault != SIP_FAULT_NO_MEMORY)
		CHECK(r < 0 && cerr.fault == err.fault && cerr.offset == err.offset);
	arena_free(a);
	free(a);
	free(buf);
	return 0;
}
