#include "marshal/conf.h"

#include <stddef.h>

static const char *const kinds[] = {"ua", "gateway", NULL};
static const char *const transports[] = {"udp", "tcp", NULL};
/* The order of enum digest_alg's base algorithms that sip/digest.h knows. */
static const char *const algorithms[] = {"md5", "sha-256", "sha-512-256", NULL};

#define C struct marshal_conf
const struct config_key marshal_keys[] = {
	{.name = "kind", CONFIG_ENUM_AT(C, kind), .def = "ua", .names = kinds,
	 .desc = "ua: phones register and call through it; gateway: the PSTN gateway's edge"},
	{.name = "listen", CONFIG_LIST_AT(C, listen, CONFIG_ADDR), .def = "127.0.0.1:5060",
	 .desc = "numeric addresses to listen on, each on every transport below"},
	{.name = "transports", CONFIG_LIST_AT(C, transports, CONFIG_ENUM), .def = "udp tcp",
	 .names = transports, .desc = "udp and/or tcp"},
	{.name = "advertise", CONFIG_STRING_AT(C, advertise), .def = "\"\"",
	 .desc = "host put in Via, Record-Route and Path; empty: the first listen address"},
	{.name = "redirect", CONFIG_ADDR_AT(C, redirect), .def = "127.0.0.1:5070",
	 .desc = "the redirect server (registrar and router), over UDP"},
	{.name = "trusted_peers", CONFIG_LIST_AT(C, trusted_peers, CONFIG_ADDR), .def = "",
	 .desc = "platform servers whose requests are not authenticated (host:port, port 0 = any); "
		 "the redirect server and the servers table count too"},
	{.name = "gateway", CONFIG_ADDR_AT(C, gateway), .def = "127.0.0.1:5090",
	 .desc = "kind gateway: the PSTN gateway, trusted by address, where calls to numbers go"},
	{.name = "server_name", CONFIG_STRING_AT(C, server_name), .def = "\"vocal marshald\"",
	 .desc = "Server header of the responses we generate"},
	{.name = "auth.algorithms", CONFIG_LIST_AT(C, auth_algorithms, CONFIG_ENUM), .def = "sha-256 md5",
	 .names = algorithms,
	 .desc = "digest challenges offered, strongest first; SIPp and baresip 1.0 answer md5 only"},
	{.name = "auth.nonce_lifetime", CONFIG_DURATION_AT(C, nonce_lifetime), .def = "5m",
	 .min = 10000, .max = 86400000, .desc = "after this a nonce is stale"},
	{.name = "auth.nonce_secret", CONFIG_STRING_AT(C, nonce_secret), .def = "\"\"",
	 .desc = "nonce signing secret (>= 16 bytes) shared by marshals that accept each other's nonces; "
		 "empty: random at each start"},
	{.name = "auth.max_failures_per_address", CONFIG_INT_AT(C, max_failures_per_address), .def = "20",
	 .min = 0, .max = 1000000, .desc = "failed authentications from one address in a window before it is banned; 0: no limit"},
	{.name = "auth.max_failures_per_user", CONFIG_INT_AT(C, max_failures_per_user), .def = "10",
	 .min = 0, .max = 1000000, .desc = "failed authentications of one user in a window before the user is refused; 0: no limit"},
	{.name = "auth.failure_window", CONFIG_DURATION_AT(C, failure_window), .def = "1m",
	 .min = 1000, .max = 86400000, .desc = "the window failures are counted in"},
	{.name = "auth.ban_time", CONFIG_DURATION_AT(C, ban_time), .def = "5m", .min = 1000,
	 .max = 604800000, .desc = "how long a ban lasts"},
	{.name = "auth.guard_entries", CONFIG_INT_AT(C, guard_entries), .def = "65536", .min = 64,
	 .max = 16777216, .desc = "addresses and users tracked at most (least recently seen forgotten first)"},
	{.name = "auth.never_ban", CONFIG_LIST_AT(C, never_ban, CONFIG_STRING), .def = "",
	 .desc = "networks (10.0.0.0/8, 2001:db8::/32, one address) never counted nor banned"},
	{.name = "scanner_user_agents", CONFIG_LIST_AT(C, scanner_user_agents, CONFIG_STRING),
	 .def = "friendly-scanner sipvicious sipcli sip-scan VaxSIPUserAgent iWar sundayddr SIPBomber pplsip smap",
	 .desc = "User-Agent substrings (any case) whose requests are dropped without an answer"},
	{.name = "max_calls", CONFIG_INT_AT(C, max_calls), .def = "50000", .min = 1, .max = 10000000,
	 .desc = "requests being proxied at once; new ones beyond get 503 with Retry-After"},
	{.name = "retry_after", CONFIG_DURATION_AT(C, retry_after), .def = "5s", .min = 1000,
	 .max = 3600000, .desc = "the Retry-After of an overload 503"},
	{.name = "timer_c", CONFIG_DURATION_AT(C, timer_c), .def = "3m", .min = 1000, .max = 3600000,
	 .desc = "INVITE branch without a final answer is cancelled after this (RFC 3261 16.6 wants over 3 min; shorter only for tests)"},
	{.name = "db.conninfo", CONFIG_STRING_AT(C, db_conninfo),
	 .def = "\"postgresql://vocal:vocal@127.0.0.1:5432/vocal\"",
	 .desc = "PostgreSQL, anything libpq takes; the marshal keeps serving from memory while it is down"},
	{0},
};
#undef C
