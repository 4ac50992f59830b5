/*
 * bench_digest: cost of server-side digest authentication (sip/digest.h).
 *
 *   bench_digest [--iterations N] [--runs R] [--only NAME] [--list]
 *
 * Operations:
 *   verify/ALG        digest_verify of a correct qop=auth response for
 *                     REGISTER, the nonce-count growing by one each time
 *                     (the path every authenticated request takes: nonce
 *                     MAC, HA2, response, nonce-count table), for MD5,
 *                     SHA-256 and SHA-512-256 (and SHA-256-sess)
 *   reject/bad-nonce  digest_verify of a forged nonce: what a flood of
 *                     made-up credentials costs before any hashing
 *   challenge/ALGS    digest_challenge of one value (SHA-256) and of the
 *                     default pair (SHA-256, MD5), fresh nonces each
 *
 * Each operation runs N iterations (default 20000) R times (default 5); the
 * best run gives ns/op (CLOCK_MONOTONIC; operations per second are 1e9
 * divided by it). Input bytes: the credentials value verified. Responses for every
 * nonce-count are computed before the clock starts, so only the server's
 * work is timed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "sip/auth.h"
#include "sip/digest.h"

#define REALM "vocal.test"
#define T0 ((int64_t)1700000000)

static sip_str lit(const char *s) { return sip_str_make(s, strlen(s)); }

static void die(const char *what)
{
	fprintf(stderr, "bench_digest: %s\n", what);
	exit(1);
}

struct op;
typedef void (*op_fn)(struct op *op, size_t iterations);

struct op {
	const char *name;
	op_fn run;
	enum digest_alg alg;
	unsigned algs;
	/* prepared outside the clock */
	struct digest_ctx *ctx;
	char ha1[DIGEST_HEX_MAX];
	char text[512];
	struct sip_auth au;
	struct arena arena;
	char *nc_at, *response_at; /* where the parsed nc and response live in text */
	char (*answers)[8 + 64];   /* per iteration: nc, then the response */
};

/* Credentials for a fresh nonce, parsed once; nc and response are then
 * overwritten in place for each iteration. */
static void prepare_verify(struct op *op, size_t iterations)
{
	char ch[512], nonce[64];
	if (digest_challenge(op->ctx, lit(REALM), false, DIGEST_ALG_BIT(op->alg), T0, ch,
			     sizeof(ch)) != 1)
		die("digest_challenge failed");
	const char *p = strstr(ch, "nonce=\"");
	memcpy(nonce, p + 7, 52);
	nonce[52] = 0;
	size_t hex = digest_alg_hex_len(op->alg);
	snprintf(op->text, sizeof(op->text),
		 "Digest username=\"alice\", realm=\"" REALM "\", nonce=\"%s\", "
		 "uri=\"sip:" REALM "\", response=\"%.*s\", algorithm=%s, qop=auth, "
		 "nc=00000000, cnonce=\"0a4f113b\"",
		 nonce, (int)hex,
		 "0000000000000000000000000000000000000000000000000000000000000000",
		 digest_alg_name(op->alg));
	arena_free(&op->arena);
	memset(&op->au, 0, sizeof(op->au));
	if (sip_auth_parse(lit(op->text), &op->arena, &op->au, "Authorization", NULL) < 0)
		die("credentials do not parse");
	op->nc_at = op->text + (op->au.nc.s - op->text);
	op->response_at = op->text + (op->au.response.s - op->text);
	free(op->answers);
	op->answers = malloc((iterations ? iterations : 1) * sizeof(*op->answers));
	if (!op->answers)
		die("out of memory");
	for (size_t i = 0; i < iterations; i++) {
		char nc[9], resp[DIGEST_HEX_MAX];
		snprintf(nc, sizeof(nc), "%08x", (unsigned)(i + 1)); /* N < 2^32 */
		struct digest_input in = {
			.alg = op->alg,
			.method = lit("REGISTER"),
			.uri = lit("sip:" REALM),
			.nonce = lit(nonce),
			.nc = lit(nc),
			.cnonce = lit("0a4f113b"),
			.qop = lit("auth"),
		};
		if (digest_response(&in, op->ha1, resp) < 0)
			die("digest_response failed");
		memcpy(op->answers[i], nc, 8);
		memcpy(op->answers[i] + 8, resp, hex);
	}
}

static void run_verify(struct op *op, size_t iterations)
{
	size_t hex = digest_alg_hex_len(op->alg);
	for (size_t i = 0; i < iterations; i++) {
		memcpy(op->nc_at, op->answers[i], 8);
		memcpy(op->response_at, op->answers[i] + 8, hex);
		if (digest_verify(op->ctx, &op->au, lit("REGISTER"), lit(REALM), op->ha1, T0 + 1,
				  NULL, 0) != DIGEST_OK)
			die("verification failed");
	}
}

static void run_bad_nonce(struct op *op, size_t iterations)
{
	for (size_t i = 0; i < iterations; i++)
		if (digest_verify(op->ctx, &op->au, lit("REGISTER"), lit(REALM), op->ha1, T0 + 1,
				  NULL, 0) != DIGEST_BAD_NONCE)
			die("forged nonce not refused");
}

static void run_challenge(struct op *op, size_t iterations)
{
	char out[1024];
	for (size_t i = 0; i < iterations; i++)
		if (digest_challenge(op->ctx, lit(REALM), false, op->algs, T0, out, sizeof(out)) <
		    1)
			die("digest_challenge failed");
}

int main(int argc, char **argv)
{
	struct bench_opts o = bench_parse_args(argc, argv, "bench_digest");
	size_t iterations = o.iterations;
	if (iterations >= UINT32_MAX)
		die("--iterations must stay below 2^32 (the nonce-count is 32 bits)");
	static struct op ops[] = {
	    {.name = "verify/MD5", .run = run_verify, .alg = DIGEST_ALG_MD5},
	    {.name = "verify/SHA-256", .run = run_verify, .alg = DIGEST_ALG_SHA256},
	    {.name = "verify/SHA-512-256", .run = run_verify, .alg = DIGEST_ALG_SHA512_256},
	    {.name = "verify/SHA-256-sess", .run = run_verify, .alg = DIGEST_ALG_SHA256_SESS},
	    {.name = "reject/bad-nonce", .run = run_bad_nonce, .alg = DIGEST_ALG_SHA256},
	    {.name = "challenge/SHA-256",
	     .run = run_challenge,
	     .algs = DIGEST_ALG_BIT(DIGEST_ALG_SHA256)},
	    {.name = "challenge/SHA-256+MD5", .run = run_challenge, .algs = DIGEST_ALGS_DEFAULT},
	};
	size_t nops = sizeof(ops) / sizeof(ops[0]);
	const char *names[sizeof(ops) / sizeof(ops[0])];
	for (size_t i = 0; i < nops; i++)
		names[i] = ops[i].name;
	int rc = bench_list("bench_digest", names, nops, &o);
	if (rc >= 0)
		return rc;

	bench_header();
	for (size_t i = 0; i < nops; i++) {
		struct op *op = &ops[i];
		if (!bench_selected(op->name, o.only))
			continue;
		arena_init(&op->arena, 0);
		if (digest_ha1(digest_alg_base(op->alg), "alice", REALM, "s3cr3t", op->ha1) < 0)
			die("digest_ha1 failed");
		double best = 0;
		for (size_t r = 0; r < o.runs; r++) {
			/* a fresh context per run: an empty nonce-count table */
			struct digest_config cfg = {.replay_slots = 65536};
			op->ctx = digest_ctx_new(&cfg, NULL, 0);
			if (!op->ctx)
				die("digest_ctx_new failed");
			if (op->run == run_verify) {
				prepare_verify(op, iterations);
			} else if (op->run == run_bad_nonce) {
				prepare_verify(op, 1);
				memcpy(op->nc_at, op->answers[0], 8);
				memcpy(op->response_at, op->answers[0] + 8,
				       digest_alg_hex_len(op->alg));
				/* forge: alter the signature part of the nonce */
				char *n = op->text + (op->au.nonce.s - op->text);
				n[40] = n[40] == 'A' ? 'B' : 'A';
			}
			double t = bench_now_ns();
			op->run(op, iterations);
			t = bench_now_ns() - t;
			if (r == 0 || t < best)
				best = t;
			digest_ctx_free(op->ctx);
			op->ctx = NULL;
		}
		bench_row(op->name, op->au.scheme.len ? strlen(op->text) : 0, iterations, best);
		free(op->answers);
		op->answers = NULL;
		arena_free(&op->arena);
	}
	return 0;
}
