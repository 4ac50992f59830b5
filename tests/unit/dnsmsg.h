/*
 * DNS messages built by hand, for tests that feed the resolver answers
 * (a fake DNS server, or sip_resolver_cache_answer): a header and
 * question, records in the answer or authority section, and the record
 * data of A, AAAA, SRV, NAPTR, CNAME and SOA.
 */
#ifndef VOCAL_TEST_DNSMSG_H
#define VOCAL_TEST_DNSMSG_H

#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "unit/testutil.h"

enum { T_A_ = 1, T_CNAME_ = 5, T_SOA_ = 6, T_AAAA_ = 28, T_SRV_ = 33, T_NAPTR_ = 35 };

struct dnsmsg {
	unsigned char b[1400];
	size_t len;
};

static inline void put8(struct dnsmsg *m, unsigned v)
{
	assert_true(m->len < sizeof(m->b));
	m->b[m->len++] = (unsigned char)v;
}

static inline void put16(struct dnsmsg *m, unsigned v)
{
	put8(m, v >> 8 & 0xff);
	put8(m, v & 0xff);
}

static inline void put32(struct dnsmsg *m, uint32_t v)
{
	put16(m, v >> 16);
	put16(m, v & 0xffff);
}

static inline void put_name(struct dnsmsg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t n = dot ? (size_t)(dot - name) : strlen(name);
		put8(m, (unsigned)n);
		for (size_t i = 0; i < n; i++)
			put8(m, (unsigned char)name[i]);
		name += n + (dot ? 1 : 0);
	}
	put8(m, 0);
}

static inline void put_string(struct dnsmsg *m, const char *s)
{
	put8(m, (unsigned)strlen(s));
	for (; *s; s++)
		put8(m, (unsigned char)*s);
}

/* An answer header and question; rcode 0 NOERROR, 3 NXDOMAIN. */
static inline void dns_begin(struct dnsmsg *m, const char *qname, unsigned qtype, unsigned rcode)
{
	m->len = 0;
	put16(m, 0);		  /* id, patched by the fake server */
	put16(m, 0x8580 | rcode); /* QR AA RD RA */
	put16(m, 1);
	put16(m, 0);
	put16(m, 0);
	put16(m, 0);
	put_name(m, qname);
	put16(m, qtype);
	put16(m, 1);
}

/* Appends a record: section 0 answer, 1 authority (after every answer). */
static inline void dns_rr(struct dnsmsg *m, int section, const char *name, unsigned type, uint32_t ttl,
		   const struct dnsmsg *rd)
{
	put_name(m, name);
	put16(m, type);
	put16(m, 1);
	put32(m, ttl);
	put16(m, (unsigned)rd->len);
	for (size_t i = 0; i < rd->len; i++)
		put8(m, rd->b[i]);
	size_t at = section == 0 ? 6 : 8;
	unsigned n = (unsigned)(m->b[at] << 8 | m->b[at + 1]) + 1;
	m->b[at] = (unsigned char)(n >> 8);
	m->b[at + 1] = (unsigned char)n;
}

static inline struct dnsmsg rd_a(const char *ip)
{
	struct dnsmsg rd = {.len = 4};
	assert_int_equal(inet_pton(AF_INET, ip, rd.b), 1);
	return rd;
}

static inline struct dnsmsg rd_aaaa(const char *ip)
{
	struct dnsmsg rd = {.len = 16};
	assert_int_equal(inet_pton(AF_INET6, ip, rd.b), 1);
	return rd;
}

static inline struct dnsmsg rd_srv(unsigned prio, unsigned weight, unsigned port, const char *target)
{
	struct dnsmsg rd = {.len = 0};
	put16(&rd, prio);
	put16(&rd, weight);
	put16(&rd, port);
	put_name(&rd, target);
	return rd;
}

static inline struct dnsmsg rd_naptr(unsigned order, unsigned pref, const char *flags, const char *service,
			      const char *replacement)
{
	struct dnsmsg rd = {.len = 0};
	put16(&rd, order);
	put16(&rd, pref);
	put_string(&rd, flags);
	put_string(&rd, service);
	put_string(&rd, "");
	put_name(&rd, replacement);
	return rd;
}

static inline struct dnsmsg rd_name(const char *target)
{
	struct dnsmsg rd = {.len = 0};
	put_name(&rd, target);
	return rd;
}

static inline struct dnsmsg rd_soa(uint32_t minimum)
{
	struct dnsmsg rd = {.len = 0};
	put_name(&rd, "ns.test");
	put_name(&rd, "hostmaster.test");
	put32(&rd, 1);
	put32(&rd, 3600);
	put32(&rd, 600);
	put32(&rd, 86400);
	put32(&rd, minimum);
	return rd;
}

#endif
