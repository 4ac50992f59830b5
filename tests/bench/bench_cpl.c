/*
 * bench_cpl: what a CPL script costs a feature server per call, in process,
 * with simulated call outcomes (feature/cpl.h).
 *
 *   bench_cpl [--iterations N] [--runs R] [--only NAME] [--list]
 *
 * Operations (the RFC 3880 examples of tests/conformance/cpl/):
 *   cpl/compile_fig20     parse, validate against the schema and compile
 *                         forward-on-busy/no-answer: the cost of a cache
 *                         miss in featured
 *   cpl/run_fig20_busy    run it for one call: proxy, busy, proxy to
 *                         voicemail, answered
 *   cpl/run_fig22_screen  call screening, a caller that is not screened
 *   cpl/run_fig24_block   outgoing call screening, a barred 1-900 number
 *   cpl/run_fig25_tod     time-of-day routing: a weekly rule from 2000
 *                         evaluated for a call in 2026
 *   cpl/run_fig30_complex the RFC's complex example
 *
 * Also written to stderr: heap bytes per compiled script (fig20 and fig22,
 * 10,000 of each held at once), the figure behind featured's memory per
 * subscriber.
 *
 * The same contract as bench_parse (tests/bench/run.sh reads it).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "feature/cpl.h"
#include "sip/uri.h"

#define FIG "tests/conformance/cpl/"

static char *slurp(const char *name, size_t *len)
{
	char path[256];
	snprintf(path, sizeof path, FIG "%s", name);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "bench_cpl: cannot open %s (run from the repository root)\n", path);
		exit(1);
	}
	char *buf = malloc(1 << 16);
	*len = buf ? fread(buf, 1, (1 << 16) - 1, f) : 0;
	fclose(f);
	if (!buf || !*len)
		exit(1);
	buf[*len] = 0;
	return buf;
}

static struct cpl_script *compile(const char *xml, size_t len)
{
	char err[256];
	struct cpl_script *s = cpl_compile(xml, len, NULL, err, sizeof err);
	if (!s) {
		fprintf(stderr, "bench_cpl: %s\n", err);
		exit(1);
	}
	return s;
}

/* ---- simulated outcomes ------------------------------------------------ */

struct sim {
	const enum cpl_proxy_status *proxy;
	unsigned nproxy, asked;
};

static enum cpl_proxy_status sim_proxy(void *ctx, const struct cpl_proxy_request *req,
				       const char *const **urls, unsigned *n)
{
	struct sim *sim = ctx;
	(void)req;
	*urls = NULL;
	*n = 0;
	return sim->asked < sim->nproxy ? sim->proxy[sim->asked++] : CPL_PROXY_FAILURE;
}

static const char *const registered[] = {"sip:jones@192.0.2.7:5060"};

static enum cpl_lookup_status sim_lookup(void *ctx, const char *source, unsigned timeout,
					 const char *const **urls, unsigned *n)
{
	(void)ctx, (void)source, (void)timeout;
	*urls = registered;
	*n = 1;
	return CPL_LOOKUP_SUCCESS;
}

struct op {
	const char *name, *file;
	bool compile_only, outgoing;
	const char *from, *to;
	time_t now;
	enum cpl_proxy_status outcomes[2];
	unsigned noutcomes;
	enum cpl_verdict expect;
	/* set up in main */
	char *xml;
	size_t len;
	struct cpl_script *script;
	struct sip_uri from_uri, to_uri;
};

#define NOV_2026 1795600000 /* Wednesday 2026-11-25 09:46 UTC: inside fig25's office hours */

#define CALL(f, t, ...)                                                                      \
	.from = (f), .to = (t), .now = NOV_2026, .outcomes = {__VA_ARGS__},                     \
	.noutcomes = sizeof((enum cpl_proxy_status[]){CPL_PROXY_FAILURE, __VA_ARGS__}) /         \
			     sizeof(enum cpl_proxy_status) - 1

static struct op ops[] = {
	{.name = "cpl/compile_fig20", .file = "fig20-call-forward-busy-noanswer.cpl",
	 .compile_only = true},
	{.name = "cpl/run_fig20_busy", .file = "fig20-call-forward-busy-noanswer.cpl",
	 CALL("sip:caller@example.org", "sip:jones@example.com", CPL_PROXY_BUSY, CPL_PROXY_ANSWERED),
	 .expect = CPL_ANSWERED},
	{.name = "cpl/run_fig22_screen", .file = "fig22-call-screening.cpl",
	 CALL("sip:friend@example.org", "sip:jones@example.com"), .expect = CPL_DEFAULT},
	{.name = "cpl/run_fig24_block", .file = "fig24-outgoing-call-screening.cpl", .outgoing = true,
	 CALL("sip:jones@example.com", "tel:+19005551234"), .expect = CPL_REJECT},
	{.name = "cpl/run_fig25_tod", .file = "fig25-time-of-day-routing.cpl",
	 CALL("sip:friend@example.org", "sip:jones@example.com", CPL_PROXY_ANSWERED),
	 .expect = CPL_ANSWERED},
	{.name = "cpl/run_fig30_complex", .file = "fig30-complex-example.cpl",
	 CALL("sip:boss@example.com", "sip:jones@example.com", CPL_PROXY_NOANSWER, CPL_PROXY_ANSWERED),
	 .expect = CPL_ANSWERED},
};
#define N_OPS (sizeof ops / sizeof ops[0])

static unsigned long long wrong;

static void run_once(struct op *op, size_t iterations)
{
	for (size_t i = 0; i < iterations; i++) {
		if (op->compile_only) {
			cpl_free(compile(op->xml, op->len));
			continue;
		}
		struct cpl_call call = {.outgoing = op->outgoing, .now = op->now};
		call.origin.uri = &op->from_uri;
		call.destination.uri = &op->to_uri;
		call.original_destination.uri = &op->to_uri;
		const char *initial[] = {op->to};
		if (op->outgoing) {
			call.initial_locations = initial;
			call.n_initial_locations = 1;
		}
		struct sim sim = {op->outcomes, op->noutcomes, 0};
		struct cpl_outcome_src src = {&sim, sim_lookup, sim_proxy};
		static struct cpl_result r;
		cpl_run(op->script, &call, &src, &r);
		wrong += r.verdict != op->expect;
	}
}

/* Heap bytes per compiled script, with n of them held at once. */
static double bytes_per_script(const char *xml, size_t len, size_t n)
{
	struct cpl_script **held = calloc(n, sizeof *held);
	if (!held)
		exit(1);
	malloc_trim(0);
	struct mallinfo2 before = mallinfo2();
	for (size_t i = 0; i < n; i++)
		held[i] = compile(xml, len);
	struct mallinfo2 after = mallinfo2();
	for (size_t i = 0; i < n; i++)
		cpl_free(held[i]);
	free(held);
	return (double)(after.uordblks - before.uordblks) / (double)n;
}

int main(int argc, char **argv)
{
	struct bench_opts o = bench_parse_args(argc, argv, "bench_cpl");
	const char *names[N_OPS];
	for (size_t i = 0; i < N_OPS; i++)
		names[i] = ops[i].name;
	int rc = bench_list("bench_cpl", names, N_OPS, &o);
	if (rc >= 0)
		return rc;

	for (size_t i = 0; i < N_OPS; i++) {
		struct op *op = &ops[i];
		op->xml = slurp(op->file, &op->len);
		op->script = compile(op->xml, op->len);
		if (op->compile_only)
			continue;
		if (sip_uri_parse(&op->from_uri, op->from, strlen(op->from), NULL) < 0 ||
		    sip_uri_parse(&op->to_uri, op->to, strlen(op->to), NULL) < 0) {
			fprintf(stderr, "bench_cpl: bad URI in %s\n", op->name);
			return 1;
		}
	}

	bench_header();
	for (size_t i = 0; i < N_OPS; i++) {
		if (!bench_selected(ops[i].name, o.only))
			continue;
		double best = 0;
		for (size_t r = 0; r < o.runs; r++) {
			double t0 = bench_now_ns();
			run_once(&ops[i], o.iterations);
			double t = bench_now_ns() - t0;
			if (r == 0 || t < best)
				best = t;
		}
		bench_row(ops[i].name, ops[i].len, o.iterations, best);
	}
	if (!o.only && o.iterations) {
		fprintf(stderr, "bench_cpl: heap per compiled script: fig20 %.0f B (%u nodes), "
				"fig22 %.0f B (%u nodes), 10,000 held\n",
			bytes_per_script(ops[0].xml, ops[0].len, 10000), cpl_node_count(ops[0].script),
			bytes_per_script(ops[2].xml, ops[2].len, 10000), cpl_node_count(ops[2].script));
	}
	for (size_t i = 0; i < N_OPS; i++) {
		cpl_free(ops[i].script);
		free(ops[i].xml);
	}
	if (wrong) {
		fprintf(stderr, "bench_cpl: %llu runs ended with another verdict than expected: "
				"the benchmark is broken\n", wrong);
		return 1;
	}
	return 0;
}
