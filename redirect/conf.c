#include "redirect/conf.h"

#include <stddef.h>

static const char *const transports[] = {"udp", "tcp", NULL};

#define C struct redirect_conf
const struct config_key redirect_keys[] = {
	{.name = "listen", CONFIG_LIST_AT(C, listen, CONFIG_ADDR), .def = "127.0.0.1:5070",
	 .desc = "numeric addresses to listen on, each on every transport below"},
	{.name = "transports", CONFIG_LIST_AT(C, transports, CONFIG_ENUM), .def = "udp tcp",
	 .names = transports, .desc = "udp and/or tcp"},
	{.name = "advertise", CONFIG_STRING_AT(C, advertise), .def = "\"\"",
	 .desc = "our host as marshals put it in Via; empty: the first listen address"},
	{.name = "instance", CONFIG_STRING_AT(C, instance), .def = "\"\"",
	 .desc = "this instance's name in binding notifications; empty: host:port"},
	{.name = "clients", CONFIG_LIST_AT(C, clients, CONFIG_STRING), .def = "127.0.0.0/8 ::1/128",
	 .desc = "networks of the platform servers allowed to send us requests (others get 403)"},
	{.name = "registrar.min_expires", CONFIG_INT_AT(C, min_expires), .def = "60", .min = 0,
	 .max = 86400, .desc = "shorter registrations get 423 Interval Too Brief (0: any)"},
	{.name = "registrar.max_expires", CONFIG_INT_AT(C, max_expires), .def = "3600", .min = 1,
	 .max = 604800, .desc = "longer registrations are granted this"},
	{.name = "registrar.default_expires", CONFIG_INT_AT(C, default_expires), .def = "3600", .min = 1,
	 .max = 604800, .desc = "when the REGISTER names no expiry"},
	{.name = "registrar.max_contacts", CONFIG_INT_AT(C, max_contacts), .def = "10", .min = 0,
	 .max = 1000, .desc = "bindings per subscriber (0: no limit)"},
	{.name = "dial_plan", CONFIG_STRING_AT(C, dial_plan), .def = "default",
	 .desc = "the dial plan that routes destinations that are not subscribers"},
	{.name = "sweep_interval", CONFIG_DURATION_AT(C, sweep_interval), .def = "1m", .min = 1000,
	 .max = 86400000, .desc = "how often expired bindings left by stopped instances are deleted"},
	{.name = "startup_grace", CONFIG_DURATION_AT(C, startup_grace), .def = "10s", .min = 0,
	 .max = 600000, .desc = "requests wait (503) this long at most for the bindings to load"},
	{.name = "features.secret", CONFIG_STRING_AT(C, features_secret), .def = "\"\"",
	 .desc = "64 hex digits shared with featured: the key that signs the vocal-hop parameter "
		 "(where a call is among its feature hops); empty: calls that need a feature hop of "
		 "an on_failure 'fail' group get 503, 'skip' groups are skipped"},
	{.name = "features.max_forwards", CONFIG_INT_AT(C, features_max_forwards), .def = "5",
	 .min = 0, .max = 1000,
	 .desc = "times features may retarget one call (forwarding); more: 482 Too Many Forwards"},
	{.name = "db.conninfo", CONFIG_STRING_AT(C, db_conninfo),
	 .def = "\"postgresql://vocal:vocal@127.0.0.1:5432/vocal\"",
	 .desc = "PostgreSQL; bindings are kept in memory and served from there while it is down"},
	{.name = "db.synchronous_commit", CONFIG_BOOL_AT(C, db_synchronous_commit), .def = "no",
	 .desc = "no: binding writes do not wait for PostgreSQL's WAL flush (a database crash may "
		 "lose the last fraction of a second of them; phones re-register, memory keeps them), "
		 "which more than doubles REGISTERs per second; yes: every write is durable when answered"},
	{0},
};
#undef C
