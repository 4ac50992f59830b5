/* provd's configuration keys (`provd -v` prints them all). */
#ifndef VOCAL_PROVISIONING_CONF_H
#define VOCAL_PROVISIONING_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct provd_conf {
	struct config_addr listen;        /* the HTTP API */
	char *tls_cert;                   /* PEM certificate (and chain); "" = plain HTTP */
	char *tls_key;                    /* PEM private key, mode 0600 or stricter */
	int tls_min_version;              /* enum tls_version (tls.h) */
	long long threads;                /* request threads, one database session each */
	char *migrations;                 /* directory of NNN_name.sql */
	char *db_conninfo;
	char *api_token_sha256;           /* hex SHA-256 of the bearer token; "" = no access */
	char *web_root;                   /* the GUI's files; "" = found next to the program */
	uint64_t session_idle;            /* ms: a session unused this long ends */
	uint64_t session_lifetime;        /* ms: a session ends this long after login */
	bool cookie_secure;               /* Secure on the cookie (provd behind TLS) */
	char *origin;                     /* provd's own origin for the Origin check; "": by Host */
	long long address_failures;       /* failed logins per address (IPv6 /64) ... */
	uint64_t address_window;          /* ... in this sliding window (ms) block it */
	uint64_t address_block;           /* for this long (ms) */
	long long account_failures;       /* failed logins of an account ... */
	uint64_t account_window;          /* ... in this window (ms) lock it */
	uint64_t lock_time;               /* for this long (ms), doubled at each lockout, at most 1 day */
	long long import_max_bytes;       /* body of POST /subscribers/import */
};

extern const struct config_key provd_keys[];

#endif
