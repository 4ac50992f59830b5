/*
 * What every benchmark program shares: the command line (--iterations N,
 * --runs R, --only NAME, --list), selecting operations by name or by the
 * group before '/', the clock, and the table rows that tests/bench/run.sh
 * reads ("name input_bytes iterations ns/op" under a header line).
 */
#ifndef VOCAL_BENCH_H
#define VOCAL_BENCH_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bench_opts {
	size_t iterations; /* default 20000; 0 runs the setup alone */
	size_t runs;       /* default 5; the best run counts */
	const char *only;
	bool list;
};

static inline void bench_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [--iterations N] [--runs R] [--only NAME] [--list]\n", prog);
	exit(2);
}

static inline size_t bench_number(const char *prog, const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || s[0] == '-')
		bench_usage(prog);
	return (size_t)v;
}

static inline struct bench_opts bench_parse_args(int argc, char **argv, const char *prog)
{
	struct bench_opts o = {20000, 5, NULL, false};
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
			o.iterations = bench_number(prog, argv[++i]);
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			o.runs = bench_number(prog, argv[++i]);
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			o.only = argv[++i];
		else if (strcmp(argv[i], "--list") == 0)
			o.list = true;
		else
			bench_usage(prog);
	}
	if (o.runs == 0)
		bench_usage(prog);
	return o;
}

/* --only NAME selects an operation by name, or a group by the part before '/'. */
static inline bool bench_selected(const char *name, const char *only)
{
	if (!only || strcmp(name, only) == 0)
		return true;
	const char *slash = strchr(name, '/');
	return slash && strlen(only) == (size_t)(slash - name) &&
	       strncmp(name, only, (size_t)(slash - name)) == 0;
}

/* Handles --list and an --only that selects nothing. Returns -1 when the
 * program should go on and time, else its exit status. */
static inline int bench_list(const char *prog, const char *const *names, size_t n,
			     const struct bench_opts *o)
{
	size_t matched = 0;
	for (size_t i = 0; i < n; i++)
		matched += bench_selected(names[i], o->only);
	if (!matched) {
		fprintf(stderr, "%s: no operation named '%s' (see --list)\n", prog, o->only);
		return 2;
	}
	if (!o->list)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (bench_selected(names[i], o->only))
			printf("%s\n", names[i]);
	return 0;
}

static inline double bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The best of o->runs timings of run(op, o->iterations), in ns. */
static inline double bench_best_ns(const struct bench_opts *o,
				   void (*run)(const void *op, size_t iterations), const void *op)
{
	double best = 0;
	for (size_t r = 0; r < o->runs; r++) {
		double t0 = bench_now_ns();
		run(op, o->iterations);
		double t = bench_now_ns() - t0;
		if (r == 0 || t < best)
			best = t;
	}
	return best;
}

static inline void bench_header(void)
{
	printf("%-24s %11s %10s %10s\n", "operation", "input_bytes", "iterations", "ns/op");
}

/* One row; best_ns is the best run's total time. */
static inline void bench_row(const char *name, size_t bytes, size_t iterations, double best_ns)
{
	if (iterations)
		printf("%-24s %11zu %10zu %10.1f\n", name, bytes, iterations,
		       best_ns / (double)iterations);
	else
		printf("%-24s %11zu %10zu %10s\n", name, bytes, iterations, "-");
}

#endif
