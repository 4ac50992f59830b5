/*
 * featured's configuration: the keys of /etc/vocal/featured.conf
 * (`featured -v` prints every key with its default).
 */
#ifndef VOCAL_FEATURE_CONF_H
#define VOCAL_FEATURE_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

enum featured_tp { FEATURED_TP_UDP = 0, FEATURED_TP_TCP };
enum featured_log { FEATURED_LOG_WARNING = 0, FEATURED_LOG_INFO, FEATURED_LOG_DEBUG };

struct featured_conf {
	struct config_list listen;        /* addresses, each on every transport */
	struct config_list transports;    /* enum featured_tp */
	char *advertise;                  /* host in Via; "" = listen host */
	struct config_addr redirect;      /* redirectd (UDP): every request we send goes there */
	struct config_list trusted_peers; /* besides the servers table: host:port (port 0: any) */
	char *server_name;
	char *secret;                     /* features.secret: 64 hex digits */
	char *secret_file;                /* features.secret_file: a file holding them */
	char *voicemail;                  /* features.voicemail: default voicemail URI */
	char *call_return_code;           /* features.call_return_code */
	long long cache_size;             /* compiled scripts kept */
	long long max_calls;
	uint64_t retry_after;             /* ms */
	uint64_t timer_c;                 /* ms */
	long long cpl_max_bytes, cpl_max_nodes, cpl_max_depth, cpl_max_locations,
		cpl_max_subactions, cpl_max_steps;
	char *mail_command;               /* mail.command: sendmail -t compatible; "" = off */
	char *mail_from;                  /* mail.from */
	long long mail_max_children, mail_max_per_minute, mail_max_per_subscriber;
	uint64_t mail_timeout;            /* ms */
	int log_level;                    /* enum featured_log */
	char *db_conninfo;
};

extern const struct config_key featured_keys[];

#endif
