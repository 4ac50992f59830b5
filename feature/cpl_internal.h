/*
 * The compiled form of a CPL script, shared by the compiler (cpl.c), the
 * interpreter (cpl_run.c) and time-switch evaluation (cpl_time.c). Nothing
 * outside feature/cpl*.c includes this.
 *
 * A script is an array of nodes; outputs are node indices (CPL_NONE: the
 * output is absent or empty, RFC 3880 section 10 applies). A "sub" is not a
 * node: it compiles to the index of its subaction's first node, and since a
 * sub may only name an earlier subaction the graph has no cycles. Strings
 * live in one pool, each once; offset 0 is the empty string, meaning
 * "absent".
 */
#ifndef VOCAL_FEATURE_CPL_INTERNAL_H
#define VOCAL_FEATURE_CPL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "feature/cpl.h"

#define CPL_NONE (-1)

enum cpl_op {
	OP_ADDRESS_SWITCH,
	OP_STRING_SWITCH,
	OP_LANGUAGE_SWITCH,
	OP_PRIORITY_SWITCH,
	OP_TIME_SWITCH,
	OP_LOCATION,
	OP_LOOKUP,
	OP_REMOVE_LOCATION,
	OP_PROXY,
	OP_REDIRECT,
	OP_REJECT,
	OP_MAIL,
	OP_LOG,
};

/* address-switch field / string-switch field */
enum cpl_field {
	F_ORIGIN, F_DESTINATION, F_ORIGINAL_DESTINATION,
	F_SUBJECT, F_ORGANIZATION, F_USER_AGENT, F_DISPLAY,
};
enum cpl_subfield { SF_NONE, SF_ADDRESS_TYPE, SF_USER, SF_HOST, SF_PORT, SF_TEL, SF_DISPLAY, SF_PASSWORD };

enum cpl_match {
	M_IS, M_CONTAINS, M_SUBDOMAIN_OF, M_MATCHES, M_LESS, M_GREATER, M_EQUAL, M_TIME,
	M_OTHERWISE, M_NOT_PRESENT,
};

/* Outputs of proxy and lookup nodes, by index into cpl_node.out. */
enum { OUT_BUSY, OUT_NOANSWER, OUT_REDIRECTION, OUT_FAILURE, OUT_DEFAULT };
enum { OUT_SUCCESS, OUT_NOTFOUND, OUT_LFAILURE };
#define OUT_NEXT 0 /* single-output nodes */

struct cpl_case {
	uint8_t match;    /* enum cpl_match */
	int8_t prio;      /* priority level of less/greater/equal, -1 unknown */
	uint32_t str;     /* argument */
	uint32_t time;    /* M_TIME: index into the script's time rules */
	int32_t next;
};

struct cpl_node {
	uint8_t op;       /* enum cpl_op */
	uint8_t field, subfield;
	uint8_t ordering; /* enum cpl_ordering */
	bool recurse, clear, permanent, timeout_given;
	uint8_t present;  /* proxy: bit per output element present (even empty) */
	uint32_t line;
	uint32_t s1, s2;  /* strings: url/source/location/ref, reason/comment; time-switch: tzid */
	uint32_t num;     /* timeout (s), reject status, location priority in 1/1000 */
	uint32_t cases, ncases;
	int32_t out[5];
};

/* Daily and longer first; sub-daily after, so freq >= FREQ_HOURLY tests
 * "sub-daily" and FREQ_HOURLY < FREQ_MINUTELY < FREQ_SECONDLY. */
enum cpl_freq {
	FREQ_NONE, FREQ_DAILY, FREQ_WEEKLY, FREQ_MONTHLY, FREQ_YEARLY,
	FREQ_HOURLY, FREQ_MINUTELY, FREQ_SECONDLY,
};

/* A wall-clock date-time as written in the script (RFC 2445 DATE-TIME). */
struct cpl_dt {
	int y, mo, d, h, mi, s;
	bool utc;
};

/* One "time" output (RFC 3880 section 4.4) in the subset we run. */
struct cpl_time {
	struct cpl_dt dtstart, dtend, until;
	bool has_dtend, has_until;
	long duration;          /* seconds, when !has_dtend */
	uint8_t freq;           /* enum cpl_freq */
	unsigned interval;
	unsigned count;         /* 0: none */
	uint8_t byday;          /* bit per weekday, 0 = Sunday */
	int8_t byday_n[7];      /* numeric prefix per weekday (monthly/yearly), 0: every */
	uint32_t bymonthday_pos;/* bit d: day d of the month */
	uint32_t bymonthday_neg;/* bit d: d-th day from the end */
	uint16_t bymonth;       /* bit m: month m (1..12) */
	uint64_t byyearday_pos[6]; /* bit d: day d of the year (1..366) */
	uint64_t byyearday_neg[6]; /* bit d: d-th day from the end */
	uint64_t byweekno_pos;  /* bit w: week w (1..53) */
	uint64_t byweekno_neg;  /* bit w: w-th week from the end */
	uint8_t wkst;           /* 0 = Sunday .. 6 */
	/* count expanded once at load time (section 4.4.1): the local day of
	 * the last occurrence, days since 1970-01-01 */
	long count_last_day, count_last_sec;
	/* byhour, byminute, bysecond; at load time a missing one becomes
	 * dtstart's local value, so every occurrence's time of day is in
	 * hours x minutes x seconds */
	uint32_t hours;
	uint64_t minutes, seconds;
	long times_per_day;     /* |hours x minutes x seconds| (daily and longer) */
	int16_t setpos[32];     /* bysetpos: +-n-th occurrence of each period */
	uint8_t nsetpos;
};

struct cpl_script {
	struct cpl_node *nodes;
	unsigned nnodes;
	struct cpl_case *cases;
	unsigned ncases;
	struct cpl_time *times;
	unsigned ntimes;
	char *pool;
	size_t pool_len;
	int32_t incoming, outgoing; /* CPL_NONE when absent or empty */
	bool has_incoming, has_outgoing;
	bool packed;    /* one allocation (cpl.c's pack) */
	unsigned max_locations, max_steps;
};

static inline const char *cpl_str(const struct cpl_script *s, uint32_t off)
{
	return off ? s->pool + off : NULL;
}

/* cpl_time.c: parses the attributes of a "time" element (get returns an
 * attribute's value or NULL). Returns 0, or -1 with a message in err. */
int cpl_time_parse(struct cpl_time *t, const char *(*get)(void *arg, const char *name),
		   void *arg, char *err, size_t errlen);
/* Load-time work for a parsed rule in zone tzid (NULL: server's local
 * time): expands count into the last occurrence's day. Returns 0, or -1
 * with a message in err when that lies too far ahead. */
int cpl_time_prepare(struct cpl_time *t, const char *tzid, char *err, size_t errlen);
/* Checks that tzid names a zone of the system's tz database. */
bool cpl_tz_known(const char *tzid);
/* Whether now falls in an occurrence of t, in zone tzid (NULL: the
 * server's local time). */
bool cpl_time_match(const struct cpl_time *t, const char *tzid, time_t now);

/* cpl_xsd.c: the RFC 3880 Appendix C schema (feature/cpl.xsd, built in),
 * from cpl_xsd up to cpl_xsd_end. */
extern const char cpl_xsd[], cpl_xsd_end[];

#endif
