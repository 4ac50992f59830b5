/*
 * featured's memory per subscriber (issue 6's goal: under 1 kB with
 * 1,000,000 subscribers' features provisioned; VOCAL needed ~10 kB):
 * the feature table filled with N subscribers' rows in a realistic mix,
 * then the scripts of every one of them compiled through the cache (as
 * calls would, with the default cache size), with the heap measured by
 * mallinfo2 after each step.
 *
 *   bench_featured_mem [N] [CACHE]     (defaults 1000000 and 100000)
 *
 * Mix: 60% voicemail (busy, no answer), 20% screening (3 entries) +
 * forward on no answer to voicemail, 10% forward all to a number of
 * their own (a script per subscriber), 10% call blocking (3 prefixes,
 * calling side) + caller-ID blocking.
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature/featured.h"
#include "feature/intern.h"

static size_t heap(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			kb = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000, cache = argc > 2 ? atol(argv[2]) : 100000;
	struct featured_conf conf = {.voicemail = "sip:vm@voicemail.vocal.test", .call_return_code = "*69",
				     .cache_size = cache};
	struct featured f = {.conf = &conf};
	f.table = feature_table_new();
	f.cache = feature_cache_new((size_t)cache);
	f.intern = script_intern_new();
	if (!f.table || !f.cache || !f.intern)
		return 1;
	size_t h0 = heap();
	long r0 = rss_kb();
	char settings[256];
	for (long i = 1; i <= n; i++) {
		struct feature_row rows[2];
		unsigned k = 0, m = (unsigned)(i % 10);
		if (m < 6) {
			rows[k++] = (struct feature_row){"voicemail", FEATURE_SIDE_CALLED, 7,
							 "{\"on_busy\": true, \"on_no_answer\": true}", 0, false};
		} else if (m < 8) {
			rows[k++] = (struct feature_row){"call_screening", FEATURE_SIDE_CALLED, 7,
				"{\"callers\": [\"anonymous\", \"sip:spam@example.com\", \"+15550000000\"]}", 0, false};
			rows[k++] = (struct feature_row){"forward_no_answer", FEATURE_SIDE_CALLED, 7,
							 "{\"target\": \"sip:vm@voicemail.vocal.test\", \"ring_time\": 25}", 0, false};
		} else if (m < 9) {
			int len = snprintf(settings, sizeof(settings), "{\"target\": \"+1212555%04ld\"}", i % 10000);
			rows[k++] = (struct feature_row){"forward_all", FEATURE_SIDE_CALLED, 7, settings, (size_t)len, false};
		} else {
			rows[k++] = (struct feature_row){"call_blocking", FEATURE_SIDE_CALLING, 7,
							 "{\"prefixes\": [\"1900\", \"1976\", \"011\"]}", 0, true};
			rows[k++] = (struct feature_row){"caller_id_blocking", FEATURE_SIDE_CALLING, 7, "{}", 0, false};
		}
		for (unsigned x = 0; x < k; x++)
			if (!rows[x].settings_len)
				rows[x].settings_len = strlen(rows[x].settings);
		if (feature_table_set(f.table, i, rows, k) < 0)
			return 1;
	}
	size_t h1 = heap();
	long r1 = rss_kb();
	struct feature_table_stats ts;
	feature_table_get_stats(f.table, &ts);
	printf("subscribers                 %ld (%zu feature rows)\n", n, ts.rows);
	printf("table                       %zu bytes heap, %.1f bytes per subscriber (RSS +%ld kB)\n",
	       h1 - h0, (double)(h1 - h0) / (double)n, r1 - r0);
	/* every subscriber's hop compiled once, as its first call would */
	char user[24];
	for (long i = 1; i <= n; i++) {
		snprintf(user, sizeof(user), "%ld", 1000000 + i);
		unsigned side = i % 10 == 9 ? FEATURE_SIDE_CALLING : FEATURE_SIDE_CALLED;
		struct feature_compiled *e =
			featured_compiled(&f, i, user, "vocal.test", side, 7, SIP_STR_LIT("bench"));
		if (!e) {
			fprintf(stderr, "subscriber %ld: nothing to run\n", i);
			return 1;
		}
		feature_compiled_release(f.cache, e);
	}
	size_t h2 = heap();
	long r2 = rss_kb();
	struct script_intern_stats is;
	script_intern_get_stats(f.intern, &is);
	struct feature_cache_stats cs;
	feature_cache_get_stats(f.cache, &cs);
	printf("compiled (cache %ld)       %zu bytes heap more: %zu cached hops, %zu distinct scripts "
	       "(%" PRIu64 " compilations, %" PRIu64 " shared)\n",
	       cache, h2 - h1, cs.entries, is.scripts, is.compiled, is.shared);
	printf("total                       %.1f bytes heap per subscriber; RSS %ld kB = %.1f bytes per subscriber\n",
	       (double)(h2 - h0) / (double)n, r2, (double)r2 * 1024.0 / (double)n);
	featured_unconfigure(&f);
	return 0;
}
