#include "provisioning/conf.h"

#include <stddef.h>

#define C struct provd_conf
const struct config_key provd_keys[] = {
	{.name = "listen", CONFIG_ADDR_AT(C, listen), .def = "127.0.0.1:8080",
	 .desc = "numeric address and port of the HTTP API (/api/v1)"},
	{.name = "threads", CONFIG_INT_AT(C, threads), .def = "4", .min = 1, .max = 64,
	 .desc = "request threads; each holds one PostgreSQL session"},
	{.name = "migrations", CONFIG_STRING_AT(C, migrations), .def = "/usr/local/share/vocal/sql",
	 .desc = "directory of the schema migrations, applied at start"},
	{.name = "db.conninfo", CONFIG_STRING_AT(C, db_conninfo),
	 .def = "\"postgresql://vocal:vocal@127.0.0.1:5432/vocal\"",
	 .desc = "PostgreSQL, the one source of truth"},
	{.name = "api.token_sha256", CONFIG_STRING_AT(C, api_token_sha256), .def = "\"\"",
	 .desc = "hex SHA-256 of the bearer token scripts send (Authorization: Bearer TOKEN); "
		 "empty: every API request is refused"},
	{.name = "web.root", CONFIG_STRING_AT(C, web_root), .def = "\"\"",
	 .desc = "directory of the web GUI, served for every path not under /api; empty: web/ "
		 "beside bin/ (a source tree), else PREFIX/share/vocal/web"},
	{0},
};
#undef C
