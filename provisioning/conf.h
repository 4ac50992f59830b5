/* provd's configuration keys (`provd -v` prints them all). */
#ifndef VOCAL_PROVISIONING_CONF_H
#define VOCAL_PROVISIONING_CONF_H

#include "config.h"

struct provd_conf {
	struct config_addr listen;        /* the HTTP API */
	long long threads;                /* request threads, one database session each */
	char *migrations;                 /* directory of NNN_name.sql */
	char *db_conninfo;
	char *api_token_sha256;           /* hex SHA-256 of the bearer token; "" = no access */
	char *web_root;                   /* the GUI's files; "" = found next to the program */
};

extern const struct config_key provd_keys[];

#endif
