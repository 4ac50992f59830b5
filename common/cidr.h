/*
 * IP networks in CIDR notation ("10.0.0.0/8", "2001:db8::/32", or one
 * address): for access lists of clients and subscribers.
 */
#ifndef VOCAL_CIDR_H
#define VOCAL_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct cidr {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t addr[16];  /* host bits cleared */
	uint8_t prefix;
};

/* Parses text; host bits past the prefix are ignored; an IPv4-mapped IPv6
 * network of prefix >= 96 becomes the IPv4 one. 0, or -1 with err. */
int cidr_parse(const char *text, struct cidr *out, char *err, size_t errlen);

/* True when sa (AF_INET or AF_INET6; an IPv4-mapped IPv6 address counts
 * as the IPv4 address) is inside n. */
bool cidr_match(const struct cidr *n, const struct sockaddr *sa);

/* The address of sa as the family (AF_INET or AF_INET6; an IPv4-mapped
 * IPv6 address is AF_INET) and its 4 or 16 bytes in out; 0 for any other
 * family. */
int cidr_addr_bytes(const struct sockaddr *sa, uint8_t out[16]);

bool cidr_list_match(const struct cidr *list, size_t n, const struct sockaddr *sa);

#endif
