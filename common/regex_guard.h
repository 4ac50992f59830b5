/*
 * Dial-plan patterns are POSIX extended regular expressions compiled by
 * glibc's regcomp, which builds a copy of a repeated atom per bound and
 * compounds stacked repetitions ("a++++...", found by fuzz_api_json): a
 * pattern of a few hundred bytes can take gigabytes. provd refuses such a
 * pattern before storing it, and redirectd's store skips one that reached
 * the database another way, so neither can be made to exhaust memory.
 */
#ifndef VOCAL_REGEX_GUARD_H
#define VOCAL_REGEX_GUARD_H

/* NULL when pattern is cheap enough to compile, else why not: a repetition
 * of a repetition, or {m,n} bounds whose product (over the whole pattern,
 * an upper bound of their nesting) passes 1000. */
const char *regex_too_costly(const char *pattern);

#endif
