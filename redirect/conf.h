/* redirectd's configuration keys (`redirectd -v` prints them all). */
#ifndef VOCAL_REDIRECT_CONF_H
#define VOCAL_REDIRECT_CONF_H

#include <stdint.h>

#include "config.h"

enum redirect_tp { REDIRECT_TP_UDP = 0, REDIRECT_TP_TCP };

struct redirect_conf {
	struct config_list listen;        /* addresses, each on every transport */
	struct config_list transports;    /* enum redirect_tp */
	char *advertise;                  /* our host for Via matching; "" = listen host */
	char *instance;                   /* name in notifications; "" = host:port */
	struct config_list clients;       /* networks allowed to send us requests */
	long long min_expires, max_expires, default_expires, max_contacts;
	char *dial_plan;                  /* name of the dial plan for non-subscribers */
	uint64_t sweep_interval;          /* ms between deletes of expired rows */
	uint64_t startup_grace;           /* ms to wait for the first load before serving anyway */
	char *features_secret;            /* hex key of the vocal-hop MAC; "" = none */
	long long features_max_forwards;  /* retargets per call */
	char *db_conninfo;
	bool db_synchronous_commit;       /* wait for the WAL flush of every binding write */
};

extern const struct config_key redirect_keys[];

#endif
