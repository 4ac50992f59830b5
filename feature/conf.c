#include "feature/conf.h"

#include <stddef.h>

#include "feature/cpl.h"

static const char *const transports[] = {"udp", "tcp", NULL};
static const char *const levels[] = {"warning", "info", "debug", NULL};


#define C struct featured_conf
const struct config_key featured_keys[] = {
	{.name = "listen", CONFIG_LIST_AT(C, listen, CONFIG_ADDR), .def = "127.0.0.1:5080",
	 .desc = "numeric addresses to listen on, each on every transport below"},
	{.name = "transports", CONFIG_LIST_AT(C, transports, CONFIG_ENUM), .def = "udp",
	 .names = transports, .desc = "udp and/or tcp (platform servers talk to each other over udp)"},
	{.name = "advertise", CONFIG_STRING_AT(C, advertise), .def = "\"\"",
	 .desc = "host put in Via; empty: the first listen address"},
	{.name = "redirect", CONFIG_ADDR_AT(C, redirect), .def = "127.0.0.1:5070",
	 .desc = "the redirect server (UDP): every request featured sends goes there first"},
	{.name = "trusted_peers", CONFIG_LIST_AT(C, trusted_peers, CONFIG_ADDR), .def = "",
	 .desc = "platform servers allowed to send us requests besides redirectd and the servers "
		 "table (host:port, port 0 = any); others get 403"},
	{.name = "server_name", CONFIG_STRING_AT(C, server_name), .def = "\"vocal featured\"",
	 .desc = "Server header of the responses we generate"},
	{.name = "features.secret", CONFIG_STRING_AT(C, secret), .def = "\"\"",
	 .desc = "the feature-hop secret shared with redirectd: 64 hex digits"},
	{.name = "features.secret_file", CONFIG_STRING_AT(C, secret_file), .def = "\"\"",
	 .desc = "a file holding the feature-hop secret (used when features.secret is empty)"},
	{.name = "features.voicemail", CONFIG_STRING_AT(C, voicemail), .def = "\"\"",
	 .desc = "the voicemail URI of voicemail features that name none; empty: none"},
	{.name = "features.call_return_code", CONFIG_STRING_AT(C, call_return_code), .def = "*69",
	 .desc = "the user part a subscriber with call_return dials to call the last caller back"},
	{.name = "features.cache_size", CONFIG_INT_AT(C, cache_size), .def = "100000", .min = 1,
	 .max = 100000000, .desc = "compiled scripts kept in memory (least recently used go first)"},
	{.name = "max_calls", CONFIG_INT_AT(C, max_calls), .def = "50000", .min = 1, .max = 10000000,
	 .desc = "requests being proxied at once; new ones beyond get 503 with Retry-After"},
	{.name = "retry_after", CONFIG_DURATION_AT(C, retry_after), .def = "5s", .min = 1000,
	 .max = 3600000, .desc = "the Retry-After of an overload 503"},
	{.name = "timer_c", CONFIG_DURATION_AT(C, timer_c), .def = "3m", .min = 1000, .max = 3600000,
	 .desc = "INVITE branch without a final answer is cancelled after this (RFC 3261 16.6)"},
	{.name = "cpl.max_bytes", CONFIG_INT_AT(C, cpl_max_bytes), .def = "65536",
	 .min = 256, .max = 1048576, .desc = "largest script compiled"},
	{.name = "cpl.max_nodes", CONFIG_INT_AT(C, cpl_max_nodes), .def = "1000", .min = 1,
	 .max = 100000, .desc = "compiled nodes of a script"},
	{.name = "cpl.max_depth", CONFIG_INT_AT(C, cpl_max_depth), .def = "40", .min = 1, .max = 1000,
	 .desc = "element nesting of a script"},
	{.name = "cpl.max_locations", CONFIG_INT_AT(C, cpl_max_locations), .def = "32", .min = 1,
	 .max = 32, .desc = "location set size"},
	{.name = "cpl.max_subactions", CONFIG_INT_AT(C, cpl_max_subactions), .def = "64", .min = 1,
	 .max = 10000, .desc = "subactions of a script"},
	{.name = "cpl.max_steps", CONFIG_INT_AT(C, cpl_max_steps), .def = "10000", .min = 1,
	 .max = 10000000, .desc = "nodes one run may execute"},
	{.name = "mail.command", CONFIG_STRING_AT(C, mail_command), .def = "\"\"",
	 .desc = "CPL <mail>: a sendmail-compatible command reading the message (recipients in its "
		 "headers) on stdin, e.g. \"/usr/sbin/sendmail -t -i\": an absolute path and "
		 "arguments split on blanks, run without a shell; empty: mail is off (logged, not sent)"},
	{.name = "mail.from", CONFIG_STRING_AT(C, mail_from), .def = "cpl@localhost",
	 .desc = "the From of CPL mail (RFC 3880 7.1.1), a plain address"},
	{.name = "mail.max_children", CONFIG_INT_AT(C, mail_max_children), .def = "4", .min = 1,
	 .max = 64, .desc = "mail commands running at once; mail beyond is dropped"},
	{.name = "mail.max_per_minute", CONFIG_INT_AT(C, mail_max_per_minute), .def = "60", .min = 1,
	 .max = 10000, .desc = "CPL mails sent in one clock minute, in all; mail beyond is dropped"},
	{.name = "mail.max_per_subscriber", CONFIG_INT_AT(C, mail_max_per_subscriber), .def = "5",
	 .min = 1, .max = 10000, .desc = "CPL mails one subscriber's scripts send in one clock minute"},
	{.name = "mail.timeout", CONFIG_DURATION_AT(C, mail_timeout), .def = "30s", .min = 1000,
	 .max = 600000, .desc = "a mail command still running then is killed"},
	{.name = "log_level", CONFIG_ENUM_AT(C, log_level), .def = "info", .names = levels,
	 .desc = "warning, info or debug (-d always logs debug)"},
	{.name = "db.conninfo", CONFIG_STRING_AT(C, db_conninfo),
	 .def = "\"postgresql://vocal:vocal@127.0.0.1:5432/vocal\"",
	 .desc = "PostgreSQL; features are served from memory while it is down"},
	{0},
};
#undef C
