#include "provisioning/conf.h"

#include <stddef.h>

static const char *const tls_versions[] = {"1.2", "1.3", NULL};

#define C struct provd_conf
const struct config_key provd_keys[] = {
	{.name = "listen", CONFIG_ADDR_AT(C, listen), .def = "127.0.0.1:8080",
	 .desc = "numeric address and port of the HTTP API (/api/v1)"},
	{.name = "tls.cert", CONFIG_STRING_AT(C, tls_cert), .def = "\"\"",
	 .desc = "PEM file of the server's certificate (then its chain); with tls.key, provd "
		 "serves HTTPS only on listen; empty: plain HTTP"},
	{.name = "tls.key", CONFIG_STRING_AT(C, tls_key), .def = "\"\"",
	 .desc = "PEM file of the certificate's private key, unencrypted, readable by its "
		 "owner only (chmod 600); re-read with tls.cert on SIGHUP"},
	{.name = "tls.min_version", CONFIG_ENUM_AT(C, tls_min_version), .def = "1.2",
	 .names = tls_versions, .desc = "the oldest TLS version served: 1.2 or 1.3"},
	{.name = "threads", CONFIG_INT_AT(C, threads), .def = "4", .min = 1, .max = 64,
	 .desc = "request threads; each holds one PostgreSQL session"},
	{.name = "migrations", CONFIG_STRING_AT(C, migrations), .def = "/usr/local/share/vocal/sql",
	 .desc = "directory of the schema migrations, applied at start"},
	{.name = "db.conninfo", CONFIG_STRING_AT(C, db_conninfo),
	 .def = "\"postgresql://vocal:vocal@127.0.0.1:5432/vocal\"",
	 .desc = "PostgreSQL, the one source of truth"},
	{.name = "api.token_sha256", CONFIG_STRING_AT(C, api_token_sha256), .def = "\"\"",
	 .desc = "hex SHA-256 of the bearer token scripts send (Authorization: Bearer TOKEN); "
		 "empty: none (scripts use named tokens, POST /api/v1/tokens, and people web logins)"},
	{.name = "web.root", CONFIG_STRING_AT(C, web_root), .def = "\"\"",
	 .desc = "directory of the web GUI, served for every path not under /api; empty: web/ "
		 "beside bin/ (a source tree), else PREFIX/share/vocal/web"},
	{.name = "session.idle_timeout", CONFIG_DURATION_AT(C, session_idle), .def = "30m",
	 .min = 1000, .max = 86400000LL * 30,
	 .desc = "a web session unused this long ends (the GUI logs in again)"},
	{.name = "session.lifetime", CONFIG_DURATION_AT(C, session_lifetime), .def = "12h",
	 .min = 1000, .max = 86400000LL * 365,
	 .desc = "a web session ends this long after its login, used or not"},
	{.name = "session.cookie_secure", CONFIG_BOOL_AT(C, cookie_secure), .def = "no",
	 .desc = "mark the session cookie Secure: set it when browsers reach provd over HTTPS "
		 "through a TLS proxy in front (with tls.cert set it is Secure anyway)"},
	{.name = "session.origin", CONFIG_STRING_AT(C, origin), .def = "\"\"",
	 .desc = "provd's origin as browsers see it (\"https://provd.example.net\"); a "
		 "cookie-authenticated change from another Origin is refused (403); empty: "
		 "http:// or https:// and the Host header"},
	{.name = "login.address_failures", CONFIG_INT_AT(C, address_failures), .def = "20",
	 .min = 1, .max = 100000,
	 .desc = "failed logins from one address (IPv6: one /64) within login.address_window "
		 "that block its logins (429) for login.address_block"},
	{.name = "login.address_window", CONFIG_DURATION_AT(C, address_window), .def = "15m",
	 .min = 1000, .max = 86400000, .desc = "the sliding window of login.address_failures"},
	{.name = "login.address_block", CONFIG_DURATION_AT(C, address_block), .def = "15m",
	 .min = 1000, .max = 86400000, .desc = "how long a blocked address waits"},
	{.name = "login.account_failures", CONFIG_INT_AT(C, account_failures), .def = "5",
	 .min = 1, .max = 1000,
	 .desc = "failed logins of one account within login.account_window that lock it"},
	{.name = "login.account_window", CONFIG_DURATION_AT(C, account_window), .def = "15m",
	 .min = 1000, .max = 86400000, .desc = "the window of login.account_failures"},
	{.name = "login.lock_time", CONFIG_DURATION_AT(C, lock_time), .def = "1m", .min = 1000,
	 .max = 86400000,
	 .desc = "the first lockout of an account; each next one lasts twice as long, at most a day"},
	{.name = "import.max_bytes", CONFIG_INT_AT(C, import_max_bytes), .def = "67108864",
	 .min = 65536, .max = 1073741824LL,
	 .desc = "the largest CSV body of POST /api/v1/subscribers/import (other requests: 64 KiB)"},
	{0},
};
#undef C
