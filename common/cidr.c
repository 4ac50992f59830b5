#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cidr_parse(const char *text, struct cidr *out, char *err, size_t errlen)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	if (alen == 0 || alen >= sizeof(buf)) {
		snprintf(err, errlen, "%s: not an address", text);
		return -1;
	}
	memcpy(buf, text, alen);
	buf[alen] = 0;
	memset(out, 0, sizeof(*out));
	unsigned max;
	if (inet_pton(AF_INET, buf, out->addr) == 1) {
		out->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = AF_INET6;
		max = 128;
	} else {
		snprintf(err, errlen, "%s: not an IPv4 or IPv6 address", text);
		return -1;
	}
	unsigned prefix = max;
	if (slash) {
		char *end;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || v > max) {
			snprintf(err, errlen, "%s: bad prefix length", text);
			return -1;
		}
		prefix = (unsigned)v;
	}
	/* an IPv4-mapped network (PostgreSQL may write ::ffff:a.b.c.d/120)
	 * is the IPv4 one, which is how sources are matched */
	if (out->family == AF_INET6 && prefix >= 96 &&
	    IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)(const void *)out->addr)) {
		memmove(out->addr, out->addr + 12, 4);
		memset(out->addr + 4, 0, 12);
		out->family = AF_INET;
		prefix -= 96;
		max = 32;
	}
	out->prefix = (uint8_t)prefix;
	for (unsigned bit = prefix; bit < max; bit++)
		out->addr[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	return 0;
}

int cidr_addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(out, a->s6_addr + 12, 4);
			return AF_INET;
		}
		memcpy(out, a->s6_addr, 16);
		return AF_INET6;
	}
	return 0;
}

bool cidr_match(const struct cidr *n, const struct sockaddr *sa)
{
	uint8_t a[16];
	if (cidr_addr_bytes(sa, a) != n->family)
		return false;
	unsigned full = n->prefix / 8, rest = n->prefix % 8;
	if (memcmp(a, n->addr, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff00u >> rest);
	return (a[full] & mask) == n->addr[full];
}

bool cidr_list_match(const struct cidr *list, size_t n, const struct sockaddr *sa)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_match(&list[i], sa))
			return true;
	return false;
}
