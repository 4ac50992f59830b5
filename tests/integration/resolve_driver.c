/*
 * resolve_driver: resolves SIP URIs with sip_resolve (RFC 3263) and prints
 * the ordered targets, one per line, for resolve_test.sh:
 *
 *   udp 127.0.0.2:5060 a.example.test 10 60
 *   error nxdomain: A/AAAA nosuch.example.test: no such name
 *
 * (transport, address:port, host name, SRV priority and weight). Each
 * repetition of each URI is one block; blocks are separated by "--".
 *
 *   resolve_driver [-s SERVERS] [-t udp,tcp,tls] [-T TIMEOUT_MS] [-r TRIES]
 *                  [-f prefer4|prefer6|v4|v6] [-S SEED] [-n REPEAT] [-v] URI...
 *
 * -v adds a last line "stats queries=N hits=N misses=N". Exit status: 0
 * when every resolution succeeded, 2 when one failed, 1 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev.h"
#include "sip/resolve.h"
#include "sip/uri.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: resolve_driver [-s SERVERS] [-t udp,tcp,tls] [-T TIMEOUT_MS] "
		"[-r TRIES] [-f prefer4|prefer6|v4|v6] [-S SEED] [-n REPEAT] [-v] URI...\n");
	exit(1);
}

static unsigned parse_transports(const char *s)
{
	unsigned mask = 0;
	char buf[64];
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int tp = sip_transport_from_name(t, strlen(t));
		if (tp < 0)
			usage();
		mask |= SIP_TP_BIT(tp);
	}
	return mask;
}

int main(int argc, char **argv)
{
	struct sip_resolver_opts o = {0};
	int repeat = 1, c;
	bool verbose = false;
	while ((c = getopt(argc, argv, "s:t:T:r:f:S:n:v")) != -1) {
		switch (c) {
		case 's':
			o.servers = optarg;
			break;
		case 't':
			o.transports = parse_transports(optarg);
			break;
		case 'T':
			o.timeout_ms = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			o.tries = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			if (strcmp(optarg, "prefer4") == 0)
				o.family = SIP_RESOLVE_PREFER_V4;
			else if (strcmp(optarg, "prefer6") == 0)
				o.family = SIP_RESOLVE_PREFER_V6;
			else if (strcmp(optarg, "v4") == 0)
				o.family = SIP_RESOLVE_V4_ONLY;
			else if (strcmp(optarg, "v6") == 0)
				o.family = SIP_RESOLVE_V6_ONLY;
			else
				usage();
			break;
		case 'S':
			o.seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			repeat = atoi(optarg);
			break;
		case 'v':
			verbose = true;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc || repeat < 1)
		usage();

	char err[320];
	if (sip_resolver_opts_check(&o, err, sizeof(err)) < 0) {
		fprintf(stderr, "resolve_driver: %s\n", err);
		return 1;
	}
	struct ev_loop *loop = ev_loop_new();
	struct sip_resolver *r = loop ? sip_resolver_new(loop, &o) : NULL;
	if (!r) {
		fprintf(stderr, "resolve_driver: cannot start the resolver\n");
		return 1;
	}
	int rc = 0;
	bool first = true;
	for (int i = optind; i < argc; i++) {
		struct sip_uri uri;
		struct sip_error perr = {0};
		if (sip_uri_parse(&uri, argv[i], strlen(argv[i]), &perr) < 0) {
			fprintf(stderr, "resolve_driver: %s: %s\n", argv[i], perr.detail);
			rc = 1;
			continue;
		}
		for (int k = 0; k < repeat; k++) {
			if (!first)
				printf("--\n");
			first = false;
			struct sip_targets *t;
			enum sip_resolve_status st =
			    sip_resolve_sync(r, &uri, &t, err, sizeof(err));
			if (st != SIP_RESOLVE_OK) {
				printf("error %s: %s\n", sip_resolve_status_name(st), err);
				rc = 2;
				continue;
			}
			const struct sip_target *x;
			while ((x = sip_targets_next(t))) {
				char buf[128];
				printf("%s %s %u %u\n", sip_target_format(x, buf, sizeof(buf)),
				       x->name, x->priority, x->weight);
			}
			sip_targets_free(t);
		}
	}
	if (verbose) {
		struct sip_resolver_stats s;
		sip_resolver_get_stats(r, &s);
		printf("stats queries=%llu hits=%llu misses=%llu\n", (unsigned long long)s.queries,
		       (unsigned long long)s.cache_hits, (unsigned long long)s.cache_misses);
	}
	sip_resolver_free(r);
	ev_loop_free(loop);
	return rc;
}
