/*
 * hop_driver: prints a signed vocal-hop value (common/feature_hop.h), as
 * redirectd would put it in a Request-URI, for the feature server's tests:
 *
 *   hop_driver SECRET PHASE INDEX GROUP FORWARDS CALL-ID USER HOST
 *
 * SECRET is 64 hex digits, PHASE c, t or r. Exit status 1 on bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature_hop.h"

int main(int argc, char **argv)
{
	uint8_t key[FEATURE_HOP_KEY_LEN];
	if (argc != 9 || feature_hop_key_parse(argv[1], key) < 0 || strlen(argv[2]) != 1) {
		fprintf(stderr, "usage: hop_driver SECRET PHASE INDEX GROUP FORWARDS CALL-ID USER HOST\n");
		return 1;
	}
	struct feature_hop h = {
		.phase = (enum feature_hop_phase)argv[2][0],
		.index = (uint32_t)strtoul(argv[3], NULL, 10),
		.group_id = strtoll(argv[4], NULL, 10),
		.forwards = (uint32_t)strtoul(argv[5], NULL, 10),
	};
	char out[FEATURE_HOP_MAX];
	int n = feature_hop_format(&h, key, sip_str_make(argv[6], strlen(argv[6])),
				   sip_str_make(argv[7], strlen(argv[7])), sip_str_make(argv[8], strlen(argv[8])),
				   out, sizeof(out));
	if (n < 0) {
		fprintf(stderr, "hop_driver: cannot format\n");
		return 1;
	}
	printf("%.*s\n", n, out);
	return 0;
}
