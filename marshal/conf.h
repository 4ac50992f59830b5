/*
 * marshald's configuration: the keys of /etc/vocal/marshald.conf (see
 * deploy/conf/marshald.conf for a commented example; `marshald -v` prints
 * every key with its default).
 */
#ifndef VOCAL_MARSHAL_CONF_H
#define VOCAL_MARSHAL_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

enum marshal_kind { MARSHAL_UA = 0, MARSHAL_GATEWAY };
enum marshal_tp { MARSHAL_TP_UDP = 0, MARSHAL_TP_TCP };

struct marshal_conf {
	int kind;                        /* enum marshal_kind */
	struct config_list listen;       /* addresses, each on every transport */
	struct config_list transports;   /* enum marshal_tp */
	char *advertise;                 /* host in Via, Record-Route, Path; "" = listen host */
	struct config_addr redirect;     /* the redirect server (UDP) */
	struct config_list trusted_peers; /* platform servers: host:port (port 0: any) */
	struct config_addr gateway;      /* gateway kind: the PSTN gateway (UDP) */
	char *server_name;
	/* authentication */
	struct config_list auth_algorithms;  /* enum: md5 sha-256 sha-512-256, in offer order */
	uint64_t nonce_lifetime;         /* ms */
	char *nonce_secret;              /* "" = random per start */
	long long max_failures_per_address, max_failures_per_user;
	uint64_t failure_window, ban_time; /* ms */
	long long guard_entries;
	struct config_list never_ban;    /* networks (CIDR strings) never counted nor banned */
	struct config_list scanner_user_agents;
	/* load */
	long long max_calls;             /* requests being proxied; beyond: 503 */
	uint64_t retry_after;            /* ms, in the 503 */
	uint64_t timer_c;                /* ms */
	/* database */
	char *db_conninfo;
};

extern const struct config_key marshal_keys[];

#endif
