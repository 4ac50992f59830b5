/*
 * Subscribers' feature settings: the table of feature kinds, and one
 * feature's settings (a JSON object, as provisioned in provd and stored in
 * subscriber_features.settings) parsed and validated into a struct.
 *
 * provd calls feature_settings_parse() to refuse bad input at the edge;
 * featured calls it when it loads a row, then hands the parsed settings of
 * one subscriber's active features to cpl_gen() (feature/cpl_gen.h). The
 * rules are in feature/README.md ("Settings reference"); in short, every
 * field is checked for type, range and length, unknown fields are refused
 * (a typo must not be silently ignored), and an error is one line that names
 * the field: "forward_no_answer.ring_time: must be an integer 5..180". Error
 * messages never quote the input, so they are safe to log and to show.
 *
 * Pure functions (no I/O except the stat of /usr/share/zoneinfo/<tzid> when
 * a time zone is checked, and compiling a raw cpl script), so the fuzz
 * target tests/fuzz/fuzz_feature_settings.c can call them.
 */
#ifndef VOCAL_FEATURE_SETTINGS_H
#define VOCAL_FEATURE_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_t; /* jansson's json_t */

enum feature_kind {
	FEATURE_CALL_SCREENING,
	FEATURE_TIME_OF_DAY,
	FEATURE_FORWARD_ALL,
	FEATURE_FORWARD_BUSY,
	FEATURE_FORWARD_NO_ANSWER,
	FEATURE_VOICEMAIL,
	FEATURE_CALL_BLOCKING,
	FEATURE_CALLER_ID_BLOCKING,
	FEATURE_CALL_RETURN,
	FEATURE_CPL,
	FEATURE_KINDS
};

/* Which hop a feature runs on: the caller's outgoing call, the callee's
 * incoming call, or both. A bit set. */
enum feature_side {
	FEATURE_CALLING = 1,
	FEATURE_CALLED = 2,
	FEATURE_BOTH = 3,
};

struct feature_kind_info {
	const char *name;      /* as in subscriber_features.feature and the API */
	unsigned sides;        /* enum feature_side bits */
	/* Position, lower first: the order of the feature hops redirectd
	 * builds (feature_kinds.position of provisioning/sql/003_features.sql,
	 * the same numbers) and the order in which a generated script applies
	 * the features of one side: call_screening, time_of_day,
	 * forward_all, then forward_busy / forward_no_answer / voicemail
	 * (outputs of ringing the subscriber). A raw cpl script that has the
	 * side's action replaces the generated features of that side in its
	 * hop, except the carrier-locked ones, which run before it
	 * (cpl_gen.h). */
	unsigned order;
	bool native;           /* done by featured itself, not expressible in CPL */
};

/* Indexed by enum feature_kind. */
extern const struct feature_kind_info feature_kinds[FEATURE_KINDS];

/* The kind named name (exact, lower case), or -1. */
int feature_kind_by_name(const char *name);

/* Limits of the settings (also in feature/README.md). */
#define FEATURE_SETTINGS_MAX_BYTES (256 * 1024) /* the JSON text given */
#define FEATURE_SETTINGS_STORED_MAX 65536       /* as subscriber_features stores it */
#define FEATURE_TARGET_MAX 256  /* bytes of a target */
#define FEATURE_LIST_MAX 100    /* callers, prefixes */
#define FEATURE_ENTRY_MAX 256   /* bytes of a callers entry */
#define FEATURE_CALLERS_MAX_BYTES 4096 /* bytes of all callers entries together */
#define FEATURE_PREFIX_MAX 32   /* bytes of a prefix, '+' included */
#define FEATURE_REASON_MAX 128  /* bytes of call_blocking.reason */
#define FEATURE_PERIODS_MAX 16
#define FEATURE_TZID_MAX 64
#define FEATURE_RING_MIN 5
#define FEATURE_RING_MAX 180
#define FEATURE_RING_DEFAULT 20

/* A target as written: a sip:, sips: or tel: URI (kept as is), or a bare
 * user part or number, which means sip:TEXT@<the subscriber's domain>
 * (cpl_gen builds that URI). */
struct feature_target {
	char text[FEATURE_TARGET_MAX + 1];
	bool bare;
};

/* Checks text as a target (the rules of feature/README.md) into t.
 * Returns 0, or -1 with "LABEL: message" in err. featured checks its
 * configured voicemail URI with it. */
int feature_target_parse(const char *label, const char *text, struct feature_target *t, char *err,
			 size_t errlen);

enum feature_screen_kind {
	SCREEN_URI,       /* user (unescaped) and host */
	SCREEN_DOMAIN,    /* host: that host or any subdomain */
	SCREEN_NUMBER,    /* user: the digits, without '+' */
	SCREEN_ANONYMOUS, /* RFC 3323 anonymous callers */
};

struct feature_screen_entry {
	enum feature_screen_kind kind;
	char user[FEATURE_ENTRY_MAX + 1];
	char host[FEATURE_ENTRY_MAX + 1]; /* lower case */
};

enum feature_screen_action { SCREEN_REJECT, SCREEN_BUSY, SCREEN_VOICEMAIL };

/* One weekly period of time_of_day, in the zone's wall-clock time. */
struct feature_period {
	uint8_t days;     /* bit 0 = SU, 1 = MO ... 6 = SA */
	uint16_t start;   /* minutes after midnight, 0..1439 */
	uint16_t end;     /* 1..1440; end <= start: ends the next day */
};

struct feature_settings {
	enum feature_kind kind;
	union {
		/* forward_all, forward_busy, forward_no_answer */
		struct {
			struct feature_target target;
			unsigned ring_time; /* forward_no_answer */
		} forward;
		struct {
			struct feature_target uri; /* when has_uri */
			bool has_uri, on_busy, on_no_answer;
			unsigned ring_time;
		} voicemail;
		struct {
			struct feature_screen_entry *callers; /* owned */
			unsigned n;
			enum feature_screen_action action;
		} screening;
		struct {
			char (*prefixes)[FEATURE_PREFIX_MAX + 1]; /* owned; as written */
			unsigned n;
			char reason[FEATURE_REASON_MAX + 1];
		} blocking;
		struct {
			char tzid[FEATURE_TZID_MAX + 1];
			struct feature_period periods[FEATURE_PERIODS_MAX];
			unsigned n;
			bool outside; /* "when": "outside" */
			struct feature_target target;
		} tod;
		struct {
			char *script; /* owned, NUL-terminated */
			size_t len;
			bool has_incoming, has_outgoing;
		} cpl;
	} u;
};

/* Parses and validates len bytes of JSON text (NULL or empty text counts
 * as {}, for a NULL settings column) as the settings of one feature of
 * kind. Returns the settings (free with feature_settings_free), or NULL
 * with a one-line message in err naming the field. A raw cpl script is
 * compiled (cpl_compile, default limits) to check it; its error is
 * returned as "cpl.script: line N: ...". */
struct feature_settings *feature_settings_parse(enum feature_kind kind, const char *json,
						size_t len, char *err, size_t errlen);

/* The same from a jansson value already parsed (provd's request body
 * member); obj is not kept. */
struct feature_settings *feature_settings_from_json(enum feature_kind kind,
						    const struct json_t *obj, char *err,
						    size_t errlen);

void feature_settings_free(struct feature_settings *s);

#endif
