/*
 * CPL (RFC 3880, Call Processing Language) scripts: parse, validate,
 * compile and run.
 *
 * cpl_compile() takes the untrusted XML a user uploaded, parses it with
 * libxml2 (no network, no DTD, no entity expansion), refuses extensions it
 * does not know (RFC 3880 section 11), validates it against the RFC's
 * schema (built into the library), checks what the schema cannot (subaction
 * references only backwards, limits, time-switch rules we support) and
 * compiles it into a compact, immutable node array. The XML tree is freed.
 *
 * cpl_run() interprets a compiled script for one call. It never blocks by
 * itself: lookups and proxy attempts are asked of callbacks the caller
 * provides (the feature server answers them; tests simulate them). A step
 * limit bounds every run. A compiled script is read-only, so several
 * threads may run it at once.
 */
#ifndef VOCAL_FEATURE_CPL_H
#define VOCAL_FEATURE_CPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sip/str.h"
#include "sip/uri.h"

struct cpl_script;

/* Limits checked when a script is compiled (and steps when it runs). Zero
 * members take the defaults (CPL_DEFAULT_*). */
struct cpl_limits {
	size_t max_bytes;      /* script size */
	unsigned max_nodes;    /* compiled nodes (every element counts) */
	unsigned max_depth;    /* element nesting */
	unsigned max_locations;/* location set size while running, and location nodes */
	unsigned max_subactions;
	unsigned max_steps;    /* nodes executed by one run */
};
#define CPL_DEFAULT_MAX_BYTES (64 * 1024)
#define CPL_DEFAULT_MAX_NODES 1000
#define CPL_DEFAULT_MAX_DEPTH 40
#define CPL_DEFAULT_MAX_LOCATIONS 32
#define CPL_DEFAULT_MAX_SUBACTIONS 64
#define CPL_DEFAULT_MAX_STEPS 10000

/* Compiles len bytes of XML. Returns the script (free with cpl_free), or
 * NULL with a one-line message in err saying what and where (line number
 * and element path) - e.g. "line 7: /cpl/incoming/address-switch/address:
 * extension attribute re:regex (namespace http://www.example.com/regex) is
 * not supported". lim may be NULL for the defaults. */
struct cpl_script *cpl_compile(const char *xml, size_t len, const struct cpl_limits *lim,
			       char *err, size_t errlen);
void cpl_free(struct cpl_script *s);

/* Which top-level actions the script has. */
bool cpl_has_incoming(const struct cpl_script *s);
bool cpl_has_outgoing(const struct cpl_script *s);
/* Whether tzid names a zone of the system's tz database, by the rule
 * time-switch tzid attributes are checked with (settings use it too). */
bool cpl_tz_known(const char *tzid);
/* Compiled node count (for limits and tests). */
unsigned cpl_node_count(const struct cpl_script *s);

/* An address of the call: its URI (NULL: absent) and display name (absent
 * when display.s is NULL). */
struct cpl_address {
	const struct sip_uri *uri;
	sip_str display;
};

/* What a run knows of the call. Absent strings have .s == NULL. */
struct cpl_call {
	bool outgoing;                       /* run the outgoing action */
	struct cpl_address origin;           /* SIP: From */
	struct cpl_address destination;      /* SIP: Request-URI */
	struct cpl_address original_destination; /* SIP: To */
	sip_str subject, organization, user_agent;
	sip_str accept_language;             /* raw Accept-Language value */
	sip_str priority;                    /* raw Priority value; absent: normal */
	time_t now;                          /* time of the call (time-switch) */
	/* Locations the server would start from for outgoing calls (the
	 * destination); incoming calls start with an empty set. */
	const char *const *initial_locations;
	unsigned n_initial_locations;
};

enum cpl_lookup_status { CPL_LOOKUP_SUCCESS, CPL_LOOKUP_NOTFOUND, CPL_LOOKUP_FAILURE };

enum cpl_ordering { CPL_PARALLEL, CPL_SEQUENTIAL, CPL_FIRST_ONLY };

/* How one proxy attempt ended. */
enum cpl_proxy_status {
	CPL_PROXY_ANSWERED,   /* a 2xx: the call is set up, the script ends */
	CPL_PROXY_BUSY,       /* 486 / 600 */
	CPL_PROXY_NOANSWER,   /* timeout */
	CPL_PROXY_REDIRECTION,/* 3xx; the contacts come back as locations */
	CPL_PROXY_FAILURE,    /* any other final response */
	/* Not known yet: the attempt is to be made. The run stops with
	 * verdict CPL_PENDING and the request in cpl_result.proxy; the
	 * caller makes the attempt and runs the script again from the start
	 * with the outcome recorded (see cpl_replay below). */
	CPL_PROXY_PENDING,
};

struct cpl_location {
	const char *url;   /* points into the script or into caller's strings */
	double priority;   /* 0.0 .. 1.0 */
};

struct cpl_proxy_request {
	const struct cpl_location *locations;
	unsigned n;
	unsigned timeout;  /* seconds */
	bool timeout_given;
	bool recurse;
	enum cpl_ordering ordering;
};

/* Where lookups and proxy outcomes come from. A callback returning more
 * locations than the limit allows has the rest ignored. Strings returned
 * must stay valid as long as the result is used. */
struct cpl_outcome_src {
	void *ctx;
	/* source is "registration" or a URL; *urls and *n are the found
	 * locations (success only). NULL callback: every lookup fails. */
	enum cpl_lookup_status (*lookup)(void *ctx, const char *source, unsigned timeout,
					 const char *const **urls, unsigned *n);
	/* Returns how the attempt ended; on CPL_PROXY_REDIRECTION it may set
	 * *urls and *n to the contacts returned. NULL callback: every attempt
	 * fails. */
	enum cpl_proxy_status (*proxy)(void *ctx, const struct cpl_proxy_request *req,
				       const char *const **urls, unsigned *n);
};

enum cpl_verdict {
	CPL_DEFAULT,       /* behave as with no script (RFC 3880 section 10, first case) */
	CPL_PROXY_SET,     /* locations modified, no signalling: proxy (or redirect,
			    * by server policy) to the location set */
	CPL_ANSWERED,      /* a proxy node's attempt was answered */
	CPL_BEST_RESPONSE, /* proxied before, script ended: return the best response */
	CPL_REDIRECT,      /* redirect to the location set */
	CPL_REJECT,        /* reject with status and reason */
	CPL_ERROR,         /* the run broke a limit; the server should act as with
			    * no script and log error */
	CPL_PENDING,       /* a proxy callback said CPL_PROXY_PENDING: make the
			    * attempt in cpl_result.proxy, then run again */
};

enum cpl_action_kind { CPL_ACT_LOG, CPL_ACT_MAIL, CPL_ACT_PROXY };

/* Non-final things the run did, in order. */
struct cpl_action {
	enum cpl_action_kind kind;
	const char *a;   /* log: name (may be NULL); mail: url */
	const char *b;   /* log: comment (may be NULL) */
	enum cpl_proxy_status proxy_status; /* proxy: how it ended */
	/* Proxy attempts whose outcome the run had used before this action
	 * (a proxy action: before its own), across both scripts of a gated
	 * hop. A server running by replay (below) with n outcomes recorded
	 * did an action in an earlier run when outcomes < n: log and mail it
	 * only when outcomes == n, so once per call. */
	unsigned outcomes;
};

#define CPL_MAX_ACTIONS 32

struct cpl_result {
	enum cpl_verdict verdict;
	/* CPL_REJECT */
	unsigned status;        /* SIP status: busy 486, notfound 404, reject 603, error 500 */
	const char *reason;     /* may be NULL */
	/* CPL_REDIRECT */
	bool permanent;         /* 301 rather than 302 */
	/* CPL_ANSWERED, CPL_PROXY_SET, CPL_REDIRECT: the location set */
	struct cpl_location locations[CPL_DEFAULT_MAX_LOCATIONS];
	unsigned n_locations;
	/* CPL_ANSWERED: the options of the proxy that succeeded (locations
	 * NULL). CPL_PENDING: the attempt to make; its locations point into
	 * this result's locations[] (so a copy of the result must not be
	 * used for them), ordering says how to try them. */
	struct cpl_proxy_request proxy;
	unsigned n_proxied;     /* proxy attempts the run made (replayed ones included) */
	struct cpl_action actions[CPL_MAX_ACTIONS];
	unsigned n_actions;     /* actions past CPL_MAX_ACTIONS are dropped */
	unsigned steps;         /* nodes executed */
	char error[160];        /* CPL_ERROR: why */
};

/* Runs the incoming (or, with call->outgoing, the outgoing) action of s.
 * A script without that action gives CPL_DEFAULT. out is filled in full;
 * returns 0, or -1 when the run was stopped (verdict CPL_ERROR). */
int cpl_run(const struct cpl_script *s, const struct cpl_call *call,
	    const struct cpl_outcome_src *src, struct cpl_result *out);

/*
 * Running a script across asynchronous proxy outcomes, by replay. A run is
 * deterministic given the call (its time fixed at the call's start) and
 * the outcomes of its proxy attempts so far, so a server that cannot wait
 * inside a callback runs the script with the outcomes it has: the first
 * attempt past them answers CPL_PROXY_PENDING, the run stops with
 * CPL_PENDING and the request to make; when the attempt ends, its outcome
 * is appended and the script runs again from the start. Lookups must be
 * deterministic too (featured's are).
 */
struct cpl_outcome {
	enum cpl_proxy_status status;   /* not CPL_PROXY_PENDING */
	const char *const *urls;        /* CPL_PROXY_REDIRECTION: the contacts */
	unsigned n;
};

struct cpl_replay {
	const struct cpl_outcome *outcomes; /* the attempts' outcomes, in order */
	unsigned n;
	unsigned next;                      /* reset to 0 before each run */
};

/* A cpl_outcome_src.proxy callback (ctx: a struct cpl_replay) answering
 * the n-th attempt with the n-th recorded outcome, and every attempt
 * beyond them with CPL_PROXY_PENDING. */
enum cpl_proxy_status cpl_replay_proxy(void *ctx, const struct cpl_proxy_request *req,
				       const char *const **urls, unsigned *n);


/*
 * A hop with two scripts: a gate that must run first (the carrier-locked
 * features' script, cpl_gen's locked part) and the subscriber's own. Run
 * by replay like one script; returns what cpl_run returns for the script
 * that decides.
 *
 * 1. The gate runs with an empty location set (so that a gate with
 *    nothing to say ends in CPL_DEFAULT on either side) over the recorded
 *    outcomes. An attempt to self alone (the call's own destination, as
 *    a registration lookup gives it: ringing the subscriber) is the
 *    gate's continuation, not an attempt: the gate stops there.
 * 2. Any other end of the gate decides: reject, redirect, an attempt
 *    (pending, answered or the best response: its outcome is final), a
 *    location set, an error.
 * 3. When the gate ended in CPL_DEFAULT or stopped at its continuation,
 *    main runs as the hop's script (with the call's initial locations),
 *    over the outcomes the gate did not use, and decides.
 * 4. Except when main leaves the call to default behaviour (CPL_DEFAULT:
 *    nothing done, nothing tried) after the gate stopped at its
 *    continuation: the gate's continuation is then made, with the gate's
 *    own outputs for its outcome (a locked forward on busy, voicemail).
 *
 * Each step is a pure function of the call and the outcomes, so the runs
 * after every new outcome take the same path up to it. gate NULL: main
 * alone (cpl_run with replay). lookups.proxy is not used (the replay
 * answers attempts). *gate_decided (may be NULL) says whether the gate's
 * result is the one returned.
 */
int cpl_run_gated(const struct cpl_script *gate, const struct cpl_script *main_script,
		  const char *self, const struct cpl_call *call, const struct cpl_outcome_src *lookups,
		  const struct cpl_outcome *outcomes, unsigned n, struct cpl_result *out,
		  bool *gate_decided);

#endif
