/*
 * CPL generated from a subscriber's feature settings, as VOCAL generated
 * CPL: for one hop (the subscriber's calling side or called side) and the
 * subscriber's active features, one RFC 3880 script that cpl_compile()
 * accepts, plus the flags of the features featured implements natively.
 *
 * Called side, in this order (feature/README.md has the scripts):
 *   call_screening   listed callers get reject (603) / busy (486) / voicemail;
 *   time_of_day      calls inside (or outside) the periods go to its target;
 *   forward_all      every other call goes to its target;
 *   otherwise ring the subscriber: <lookup source="registration">, then
 *   <proxy timeout=ring_time>; busy -> forward_busy's target, else
 *   voicemail (on_busy); noanswer -> forward_no_answer's target, else
 *   voicemail (on_no_answer). An output no active feature handles is left
 *   to default behaviour (RFC 3880 section 10).
 * Calling side: call_blocking (prefixes of the destination number, 603).
 * A raw cpl feature whose script has the side's action (incoming for
 * called, outgoing for calling) replaces the generated features of that
 * side that the subscriber set (out->note says which were ignored); the
 * ones the carrier locked (in->locked) are not ignored but written as a
 * separate script, the hop's locked part (in->part), which featured runs
 * first (cpl_run_gated): it rejects, redirects or forwards the call, or
 * lets it go on to the subscriber's script.
 *
 * Every string from the settings is escaped for XML attributes; the
 * settings were validated by feature_settings_parse() already.
 *
 * The scripts never name the subscriber's own address (ringing is a
 * lookup), so subscribers with the same settings get byte-identical
 * scripts, which featured can compile once and share (see
 * feature/README.md, "Memory").
 */
#ifndef VOCAL_FEATURE_CPL_GEN_H
#define VOCAL_FEATURE_CPL_GEN_H

#include <stdbool.h>
#include <stddef.h>

#include "feature/cpl.h"
#include "feature/settings.h"

struct cpl_gen_in {
	const char *user;     /* the subscriber's user part */
	const char *domain;   /* and domain: bare targets become sip:T@domain */
	enum feature_side side; /* FEATURE_CALLING or FEATURE_CALLED */
	/* The subscriber's active features (admin_enabled and user_enabled),
	 * parsed; those not for this side are skipped. A kind may appear
	 * once. */
	const struct feature_settings *const *features;
	unsigned n;
	/* featured's configured voicemail URI, used when the voicemail
	 * feature has no uri and for screening's "voicemail" action; NULL:
	 * none configured. */
	const char *voicemail_uri;
	/* locked[i]: the carrier locked features[i]; NULL: none locked. */
	const bool *locked;
	/* Which script to write. CPL_GEN_HOP: the script the hop runs (the
	 * generated one, or the subscriber's own cpl). CPL_GEN_LOCKED: the
	 * script that runs before the subscriber's own: generated from the
	 * locked features of the side alone, and written only when a raw
	 * cpl script replaces the side's generated one (otherwise the
	 * locked features are in the hop's script already; len 0). */
	enum cpl_gen_part { CPL_GEN_HOP, CPL_GEN_LOCKED } part;
};

struct cpl_gen_out {
	/* Bytes of the script written to buf (NUL-terminated); 0: this hop
	 * needs no script (run it as without one). After -1 for a buffer
	 * that is too small: the size needed, NUL excluded. */
	size_t len;
	bool raw;                /* the script is the subscriber's own cpl */
	bool caller_id_blocking; /* native: featured anonymises From (RFC 3323) */
	bool call_return;        /* native: featured records / returns the last caller */
	/* What could not be done as asked, in one line, "" when all was:
	 * e.g. "voicemail: no uri and no default voicemail URI, skipped".
	 * Worth a log line; the script is still usable. */
	char note[200];
};

/* Writes the script for in into buf[cap]. Returns 0, or -1 with a
 * one-line message in err: the buffer is too small (out->len says how
 * much is needed; CPL_DEFAULT_MAX_BYTES + 1 is always enough), the
 * subscriber's user or domain or the voicemail URI is not usable, a kind
 * appears twice, or side is not one side. */
int cpl_gen(const struct cpl_gen_in *in, char *buf, size_t cap, struct cpl_gen_out *out,
	    char *err, size_t errlen);

/* For featured, building the cpl_call of a calling-side hop: CPL sees
 * telephone digits (the tel subfield that call_blocking matches) only in
 * tel: URIs and SIP URIs with user=phone, but phones dial
 * sip:19005551212@domain. When uri is a sip/sips URI without a user
 * parameter and without headers whose user part is a number ('+', digits
 * and the visual separators - . ( ), with at least one digit), writes the
 * same URI with ";user=phone" appended into buf and returns true; the
 * caller parses it and uses it as the call's destination. Otherwise (or
 * when buf is too small) returns false: use uri as it is. */
bool cpl_gen_phone_destination(const struct sip_uri *uri, char *buf, size_t cap);

/* Memory a compiled script takes, for limits and measurement. used counts
 * the elements in use (header, nodes, cases, time rules, string pool,
 * without alignment padding); allocated what malloc gave (as
 * malloc_usable_size reports, without the allocator's own header). */
struct cpl_footprint {
	unsigned nodes, cases, times;
	size_t pool;             /* bytes of the string pool in use */
	size_t node_size, case_size, time_size; /* sizeof each element */
	size_t used, allocated;
};
void cpl_footprint(const struct cpl_script *s, struct cpl_footprint *fp);

#endif
