/*
 * Feature settings (settings.h): JSON in, a checked struct or a one-line
 * error out. Every string that reaches a CPL script later is restricted
 * here to what the script needs (URIs: printable ASCII without blanks;
 * numbers: digits; free text: no control characters, only characters XML
 * allows), so that the generator's escaping is the second line of defence,
 * not the only one.
 */
#include "feature/settings.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <libxml/uri.h>

#include "feature/cpl.h"
#include "sip/uri.h"

/* order: the position of provisioning/sql/003_features.sql's feature_kinds
 * (test_cpl_gen checks that the two agree). */
const struct feature_kind_info feature_kinds[FEATURE_KINDS] = {
	[FEATURE_CALL_RETURN] = {"call_return", FEATURE_BOTH, 10, true},
	[FEATURE_CALL_BLOCKING] = {"call_blocking", FEATURE_CALLING, 20, false},
	[FEATURE_CPL] = {"cpl", FEATURE_BOTH, 30, false},
	[FEATURE_CALLER_ID_BLOCKING] = {"caller_id_blocking", FEATURE_CALLING, 40, true},
	[FEATURE_CALL_SCREENING] = {"call_screening", FEATURE_CALLED, 50, false},
	[FEATURE_TIME_OF_DAY] = {"time_of_day", FEATURE_CALLED, 60, false},
	[FEATURE_FORWARD_ALL] = {"forward_all", FEATURE_CALLED, 70, false},
	[FEATURE_FORWARD_BUSY] = {"forward_busy", FEATURE_CALLED, 80, false},
	[FEATURE_FORWARD_NO_ANSWER] = {"forward_no_answer", FEATURE_CALLED, 90, false},
	[FEATURE_VOICEMAIL] = {"voicemail", FEATURE_CALLED, 100, false},
};

int feature_kind_by_name(const char *name)
{
	for (int i = 0; name && i < FEATURE_KINDS; i++)
		if (!strcmp(feature_kinds[i].name, name))
			return i;
	return -1;
}

/* ---- errors -------------------------------------------------------------- */

struct ctx {
	const char *feature;
	char *err;
	size_t errlen;
};

/* "FEATURE.FIELD: message"; returns -1. */
static int fail(struct ctx *c, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const char *field, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (field)
		snprintf(c->err, c->errlen, "%s.%s: %s", c->feature, field, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->feature, msg);
	return -1;
}

/* ---- members ------------------------------------------------------------- */

/* Refuses members not in allowed (NULL-terminated). */
static int only_members(struct ctx *c, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			ok |= !strcmp(*a, key);
		if (!ok) {
			/* the name is untrusted: show it only when it is short and
			 * plain */
			bool plain = strlen(key) <= 32 && key[0];
			for (const char *p = key; *p && plain; p++)
				plain = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
			if (plain)
				return fail(c, NULL, "unknown field \"%s\" (fields: see feature/README.md)",
					    key);
			return fail(c, NULL, "unknown field (fields: see feature/README.md)");
		}
	}
	return 0;
}

/* A string member: *out NULL when absent (and !required). Refuses
 * non-strings, embedded NULs, and more than max bytes. */
static int get_string(struct ctx *c, json_t *obj, const char *name, bool required, size_t max,
		      const char **out)
{
	json_t *v = json_object_get(obj, name);
	*out = NULL;
	if (!v) {
		if (required)
			return fail(c, name, "is required");
		return 0;
	}
	if (!json_is_string(v))
		return fail(c, name, "must be a string");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (strlen(s) != n)
		return fail(c, name, "must not contain NUL characters");
	if (n > max)
		return fail(c, name, "must be at most %zu bytes", max);
	*out = s;
	return 0;
}

static int get_bool(struct ctx *c, json_t *obj, const char *name, bool dflt, bool *out)
{
	json_t *v = json_object_get(obj, name);
	*out = dflt;
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(c, name, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

static int get_ring_time(struct ctx *c, json_t *obj, unsigned *out)
{
	json_t *v = json_object_get(obj, "ring_time");
	*out = FEATURE_RING_DEFAULT;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < FEATURE_RING_MIN ||
	    json_integer_value(v) > FEATURE_RING_MAX)
		return fail(c, "ring_time", "must be an integer %d..%d (seconds)", FEATURE_RING_MIN,
			    FEATURE_RING_MAX);
	*out = (unsigned)json_integer_value(v);
	return 0;
}

/* ---- values -------------------------------------------------------------- */

static bool is_number(const char *s)
{
	if (*s == '+')
		s++;
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* A bare user part for sip:USER@domain: RFC 3261 unreserved characters
 * and '+', so that it needs no escaping in a URI. */
static bool is_bare_user(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.!~*'()+", *s))
			return false;
	return true;
}

/* Printable ASCII without blanks: what a URI is made of. */
static bool uri_chars(const char *s)
{
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f)
			return false;
	return true;
}

/* Whether the RFC 3880 schema takes s as an xs:anyURI (a location's
 * url): libxml2 replaces the characters a URI may not hold with '_' and
 * parses the rest with xmlParseURI (RFC 3986), which refuses some things a
 * SIP URI allows, such as '[' in a parameter. Done the same way here so
 * that an accepted target always makes a valid script. */
static bool schema_uri_ok(const char *s)
{
	char *tmp = strdup(s);
	if (!tmp)
		return false;
	for (char *p = tmp; *p; p++)
		if ((unsigned char)*p < 32 || (unsigned char)*p >= 127 || strchr(" <>\"{}|\\^`'", *p))
			*p = '_';
	xmlURIPtr u = xmlParseURI(tmp);
	free(tmp);
	if (!u)
		return false;
	xmlFreeURI(u);
	return true;
}

static int parse_target(struct ctx *c, const char *field, const char *s, struct feature_target *t)
{
	memset(t, 0, sizeof(*t));
	size_t n = strlen(s);
	if (n == 0)
		return fail(c, field, "must not be empty");
	if (n > FEATURE_TARGET_MAX)
		return fail(c, field, "must be at most %d bytes", FEATURE_TARGET_MAX);
	memcpy(t->text, s, n + 1);
	t->bare = false;
	if (!strchr(s, ':')) {
		if (!is_bare_user(s))
			return fail(c, field,
				    "must be a sip:, sips: or tel: URI, a number, or a user part of "
				    "letters, digits and -_.!~*'()+");
		t->bare = true;
		return 0;
	}
	if (strncasecmp(s, "sip:", 4) && strncasecmp(s, "sips:", 5) && strncasecmp(s, "tel:", 4))
		return fail(c, field, "must be a sip:, sips: or tel: URI, a number, or a user part");
	struct sip_uri u;
	struct sip_error e;
	if (!uri_chars(s) || sip_uri_parse(&u, s, n, &e))
		return fail(c, field, "is not a valid %s URI",
			    !strncasecmp(s, "tel:", 4) ? "tel" : "SIP");
	if (u.headers.len || memchr(s, '?', n))
		return fail(c, field, "must not have URI headers (?...)");
	if ((u.scheme != SIP_URI_TEL && memchr(s, '@', n) && !u.user.len) || !schema_uri_ok(s))
		return fail(c, field, "is not a valid %s URI",
			    !strncasecmp(s, "tel:", 4) ? "tel" : "SIP");
	if (u.scheme != SIP_URI_TEL && !u.host.len)
		return fail(c, field, "must have a host");
	return 0;
}

/* XML 1.0 characters only, no control characters (reason phrases may not
 * hold them either), valid UTF-8 (jansson has checked that already). */
static bool text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
		if (*p < 0x80) {
			p++;
			continue;
		}
		unsigned cp, len;
		if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			len = 2;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			len = 3;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			len = 4;
		} else {
			return false;
		}
		for (unsigned i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* C1 controls, surrogates, U+FFFE and U+FFFF are not text */
		if ((cp >= 0x80 && cp < 0xa0) || (cp >= 0xd800 && cp < 0xe000) || cp == 0xfffe ||
		    cp == 0xffff || cp > 0x10ffff)
			return false;
		p += len;
	}
	return true;
}

static bool valid_host(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 253)
		return false;
	for (const char *p = h; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
			return false;
	return h[0] != '.' && h[0] != '-' && !strstr(h, "..");
}

static int parse_caller(struct ctx *c, unsigned i, const char *s, struct feature_screen_entry *e)
{
	char field[32];
	snprintf(field, sizeof(field), "callers[%u]", i);
	size_t n = strlen(s);
	if (n == 0)
		return fail(c, field, "must not be empty");
	if (n > FEATURE_ENTRY_MAX)
		return fail(c, field, "must be at most %d bytes", FEATURE_ENTRY_MAX);
	memset(e, 0, sizeof(*e));
	if (!strcasecmp(s, "anonymous")) {
		e->kind = SCREEN_ANONYMOUS;
		return 0;
	}
	if (s[0] == '@') {
		if (!valid_host(s + 1))
			return fail(c, field, "\"@domain\" needs a domain name of letters, digits, "
					      "'-' and '.'");
		e->kind = SCREEN_DOMAIN;
		for (size_t k = 1; k <= n; k++)
			e->host[k - 1] = (char)tolower((unsigned char)s[k]);
		return 0;
	}
	if (is_number(s)) {
		if (n > FEATURE_PREFIX_MAX)
			return fail(c, field, "a number must be at most %d characters",
				    FEATURE_PREFIX_MAX);
		e->kind = SCREEN_NUMBER;
		snprintf(e->user, sizeof(e->user), "%s", s[0] == '+' ? s + 1 : s);
		return 0;
	}
	struct sip_uri u;
	struct sip_error er;
	if (!uri_chars(s) || sip_uri_parse(&u, s, n, &er))
		goto bad;
	if (u.scheme == SIP_URI_TEL) {
		/* a tel URI is a number: keep its digits */
		char digits[FEATURE_ENTRY_MAX + 1];
		size_t o = 0;
		for (size_t k = 0; k < u.user.len && u.user.s[k] != ';'; k++)
			if (isdigit((unsigned char)u.user.s[k]))
				digits[o++] = u.user.s[k];
			else if (!strchr("+-.()", u.user.s[k]))
				goto bad;
		digits[o] = 0;
		if (!o)
			goto bad;
		e->kind = SCREEN_NUMBER;
		memcpy(e->user, digits, o + 1);
		return 0;
	}
	if (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS)
		goto bad;
	if (!u.user.len)
		return fail(c, field, "a SIP URI needs a user part (to screen a whole domain, write "
				      "\"@example.com\")");
	long un = sip_unescape(u.user, e->user, sizeof(e->user) - 1);
	if (un <= 0 || memchr(e->user, 0, (size_t)un))
		goto bad;
	e->user[un] = 0;
	if (!text_ok(e->user) || u.host.len > FEATURE_ENTRY_MAX)
		goto bad;
	for (size_t k = 0; k < u.host.len; k++)
		e->host[k] = (char)tolower((unsigned char)u.host.s[k]);
	e->host[u.host.len] = 0;
	e->kind = SCREEN_URI;
	return 0;
bad:
	return fail(c, field,
		    "must be a SIP URI (sip:user@host), \"@domain\", a number (digits, optional "
		    "leading +) or anonymous");
}

static bool tz_known(const char *tzid)
{
	/* the same rule as the interpreter's (feature/cpl_time.c) */
	if (!tzid[0] || tzid[0] == '/' || strstr(tzid, ".."))
		return false;
	for (const char *p = tzid; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_+-", *p))
			return false;
	char path[160];
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tzid);
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* "HH:MM" into minutes; 24:00 only when allow24. */
static bool parse_hhmm(const char *s, bool allow24, uint16_t *out)
{
	if (strlen(s) != 5 || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
	    s[2] != ':' || !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
		return false;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m || !allow24)))
		return false;
	*out = (uint16_t)(h * 60 + m);
	return true;
}

static int parse_period(struct ctx *c, unsigned i, json_t *v, struct feature_period *p)
{
	static const char days[][3] = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};
	static const char *const fields[] = {"days", "start", "end", NULL};
	char field[48];
	snprintf(field, sizeof(field), "periods[%u]", i);
	if (!json_is_object(v))
		return fail(c, field, "must be an object {\"days\": [...], \"start\": \"HH:MM\", "
				      "\"end\": \"HH:MM\"}");
	struct ctx sub = *c;
	char feature[64];
	snprintf(feature, sizeof(feature), "%s.%s", c->feature, field);
	sub.feature = feature;
	if (only_members(&sub, v, fields))
		return -1;
	json_t *d = json_object_get(v, "days");
	if (!d)
		return fail(&sub, "days", "is required");
	if (!json_is_array(d) || json_array_size(d) < 1 || json_array_size(d) > 7)
		return fail(&sub, "days", "must be an array of 1 to 7 of MO TU WE TH FR SA SU");
	p->days = 0;
	for (size_t k = 0; k < json_array_size(d); k++) {
		json_t *e = json_array_get(d, k);
		int day = -1;
		for (int w = 0; w < 7 && json_is_string(e); w++)
			if (!strcmp(json_string_value(e), days[w]))
				day = w;
		if (day < 0)
			return fail(&sub, "days", "must be an array of MO TU WE TH FR SA SU");
		if (p->days & (1u << day))
			return fail(&sub, "days", "lists %s twice", days[day]);
		p->days |= (uint8_t)(1u << day);
	}
	const char *s, *e;
	if (get_string(&sub, v, "start", true, 5, &s) || get_string(&sub, v, "end", true, 5, &e))
		return -1;
	if (!parse_hhmm(s, false, &p->start))
		return fail(&sub, "start", "must be a time \"HH:MM\" from 00:00 to 23:59");
	if (!parse_hhmm(e, true, &p->end))
		return fail(&sub, "end", "must be a time \"HH:MM\" from 00:00 to 24:00");
	if (p->end == p->start || (p->start == 0 && p->end == 0))
		return fail(&sub, "end", "must differ from start (a whole day is 00:00 to 24:00)");
	return 0;
}

int feature_target_parse(const char *label, const char *text, struct feature_target *t, char *err,
			 size_t errlen)
{
	char dummy[1];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	struct ctx c = {label ? label : "target", err, errlen};
	return parse_target(&c, NULL, text ? text : "", t);
}

/* ---- one parser per kind ------------------------------------------------- */

static int parse_forward(struct ctx *c, json_t *o, struct feature_settings *s)
{
	static const char *const plain[] = {"target", NULL};
	static const char *const na[] = {"target", "ring_time", NULL};
	const char *t;
	bool no_answer = s->kind == FEATURE_FORWARD_NO_ANSWER;
	if (only_members(c, o, no_answer ? na : plain) ||
	    get_string(c, o, "target", true, 4096, &t) ||
	    parse_target(c, "target", t, &s->u.forward.target))
		return -1;
	s->u.forward.ring_time = FEATURE_RING_DEFAULT;
	return no_answer ? get_ring_time(c, o, &s->u.forward.ring_time) : 0;
}

static int parse_voicemail(struct ctx *c, json_t *o, struct feature_settings *s)
{
	static const char *const fields[] = {"uri", "on_busy", "on_no_answer", "ring_time", NULL};
	const char *t;
	if (only_members(c, o, fields) || get_string(c, o, "uri", false, 4096, &t))
		return -1;
	if (t && parse_target(c, "uri", t, &s->u.voicemail.uri))
		return -1;
	s->u.voicemail.has_uri = t != NULL;
	return get_bool(c, o, "on_busy", true, &s->u.voicemail.on_busy) ||
			       get_bool(c, o, "on_no_answer", true, &s->u.voicemail.on_no_answer) ||
			       get_ring_time(c, o, &s->u.voicemail.ring_time)
		       ? -1
		       : 0;
}

static int parse_screening(struct ctx *c, json_t *o, struct feature_settings *s)
{
	static const char *const fields[] = {"callers", "action", NULL};
	static const char *const actions[] = {"reject", "busy", "voicemail"};
	if (only_members(c, o, fields))
		return -1;
	json_t *a = json_object_get(o, "callers");
	if (!a)
		return fail(c, "callers", "is required");
	if (!json_is_array(a))
		return fail(c, "callers", "must be an array of strings");
	size_t n = json_array_size(a);
	if (n > FEATURE_LIST_MAX)
		return fail(c, "callers", "must have at most %d entries", FEATURE_LIST_MAX);
	if (n && !(s->u.screening.callers = calloc(n, sizeof(*s->u.screening.callers))))
		return fail(c, "callers", "out of memory");
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(a, i);
		if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
			return fail(c, "callers", "entry %zu must be a string", i);
		/* bounds the generated script under the compiler's size limit */
		if ((total += json_string_length(e)) > FEATURE_CALLERS_MAX_BYTES)
			return fail(c, "callers", "must be at most %d bytes in all",
				    FEATURE_CALLERS_MAX_BYTES);
		if (parse_caller(c, (unsigned)i, json_string_value(e), &s->u.screening.callers[i]))
			return -1;
		s->u.screening.n = (unsigned)i + 1;
	}
	const char *act;
	if (get_string(c, o, "action", false, 16, &act))
		return -1;
	s->u.screening.action = SCREEN_REJECT;
	if (act) {
		unsigned k = 0;
		while (k < 3 && strcmp(actions[k], act))
			k++;
		if (k == 3)
			return fail(c, "action", "must be \"reject\", \"busy\" or \"voicemail\"");
		s->u.screening.action = (enum feature_screen_action)k;
	}
	return 0;
}

static int parse_blocking(struct ctx *c, json_t *o, struct feature_settings *s)
{
	static const char *const fields[] = {"prefixes", "reason", NULL};
	if (only_members(c, o, fields))
		return -1;
	json_t *a = json_object_get(o, "prefixes");
	if (!a)
		return fail(c, "prefixes", "is required");
	if (!json_is_array(a))
		return fail(c, "prefixes", "must be an array of strings");
	size_t n = json_array_size(a);
	if (n > FEATURE_LIST_MAX)
		return fail(c, "prefixes", "must have at most %d entries", FEATURE_LIST_MAX);
	if (n && !(s->u.blocking.prefixes = calloc(n, sizeof(*s->u.blocking.prefixes))))
		return fail(c, "prefixes", "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(a, i);
		const char *p = json_is_string(e) ? json_string_value(e) : NULL;
		if (!p || strlen(p) != json_string_length(e) || !is_number(p) ||
		    strlen(p) > FEATURE_PREFIX_MAX)
			return fail(c, "prefixes",
				    "entry %zu must be 1 to %d digits with an optional leading +", i,
				    FEATURE_PREFIX_MAX - 1);
		snprintf(s->u.blocking.prefixes[i], sizeof(s->u.blocking.prefixes[i]), "%s", p);
		s->u.blocking.n = (unsigned)i + 1;
	}
	const char *r;
	if (get_string(c, o, "reason", false, FEATURE_REASON_MAX, &r))
		return -1;
	if (r && (!r[0] || !text_ok(r)))
		return fail(c, "reason", "must be 1 to %d bytes of text without control characters",
			    FEATURE_REASON_MAX);
	snprintf(s->u.blocking.reason, sizeof(s->u.blocking.reason), "%s",
		 r ? r : "Outgoing call blocked");
	return 0;
}

static int parse_tod(struct ctx *c, json_t *o, struct feature_settings *s)
{
	static const char *const fields[] = {"tzid", "periods", "when", "target", NULL};
	const char *tz, *when, *t;
	if (only_members(c, o, fields) || get_string(c, o, "tzid", true, FEATURE_TZID_MAX, &tz))
		return -1;
	if (!tz_known(tz))
		return fail(c, "tzid", "must name a time zone of the tz database, e.g. "
				       "\"Europe/Paris\"");
	snprintf(s->u.tod.tzid, sizeof(s->u.tod.tzid), "%s", tz);
	json_t *a = json_object_get(o, "periods");
	if (!a)
		return fail(c, "periods", "is required");
	if (!json_is_array(a) || json_array_size(a) < 1 ||
	    json_array_size(a) > FEATURE_PERIODS_MAX)
		return fail(c, "periods", "must be an array of 1 to %d periods",
			    FEATURE_PERIODS_MAX);
	for (size_t i = 0; i < json_array_size(a); i++) {
		if (parse_period(c, (unsigned)i, json_array_get(a, i), &s->u.tod.periods[i]))
			return -1;
		s->u.tod.n = (unsigned)i + 1;
	}
	if (get_string(c, o, "when", false, 16, &when))
		return -1;
	if (when && strcmp(when, "inside") && strcmp(when, "outside"))
		return fail(c, "when", "must be \"inside\" or \"outside\"");
	s->u.tod.outside = when && !strcmp(when, "outside");
	if (get_string(c, o, "target", true, 4096, &t))
		return -1;
	return parse_target(c, "target", t, &s->u.tod.target);
}

static int parse_cpl(struct ctx *c, json_t *o, struct feature_settings *s)
{
	static const char *const fields[] = {"script", NULL};
	const char *x;
	if (only_members(c, o, fields) ||
	    get_string(c, o, "script", true, CPL_DEFAULT_MAX_BYTES, &x))
		return -1;
	char msg[300];
	size_t n = strlen(x);
	struct cpl_script *cs = cpl_compile(x, n, NULL, msg, sizeof(msg));
	if (!cs)
		return fail(c, "script", "%s", msg);
	s->u.cpl.has_incoming = cpl_has_incoming(cs);
	s->u.cpl.has_outgoing = cpl_has_outgoing(cs);
	cpl_free(cs);
	if (!(s->u.cpl.script = malloc(n + 1)))
		return fail(c, "script", "out of memory");
	memcpy(s->u.cpl.script, x, n + 1);
	s->u.cpl.len = n;
	return 0;
}

static int parse_empty(struct ctx *c, json_t *o, struct feature_settings *s)
{
	static const char *const none[] = {NULL};
	return only_members(c, o, none);
}

struct feature_settings *feature_settings_from_json(enum feature_kind kind,
						    const struct json_t *cobj, char *err,
						    size_t errlen)
{
	char dummy[1];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	if ((unsigned)kind >= FEATURE_KINDS) {
		snprintf(err, errlen, "unknown feature kind %d", (int)kind);
		return NULL;
	}
	struct ctx c = {feature_kinds[kind].name, err, errlen};
	json_t *obj = (json_t *)cobj;
	if (!json_is_object(obj)) {
		fail(&c, NULL, "settings must be a JSON object");
		return NULL;
	}
	/* the column's CHECK (003_features.sql): the text jsonb prints, which
	 * has the separators of json_dumpb without JSON_COMPACT */
	size_t stored = json_dumpb(obj, NULL, 0, 0);
	if (stored > FEATURE_SETTINGS_STORED_MAX) {
		fail(&c, NULL, "settings are larger than %d bytes as stored",
		     FEATURE_SETTINGS_STORED_MAX);
		return NULL;
	}
	struct feature_settings *s = calloc(1, sizeof(*s));
	if (!s) {
		fail(&c, NULL, "out of memory");
		return NULL;
	}
	s->kind = kind;
	int rc;
	switch (kind) {
	case FEATURE_FORWARD_ALL:
	case FEATURE_FORWARD_BUSY:
	case FEATURE_FORWARD_NO_ANSWER: rc = parse_forward(&c, obj, s); break;
	case FEATURE_VOICEMAIL: rc = parse_voicemail(&c, obj, s); break;
	case FEATURE_CALL_SCREENING: rc = parse_screening(&c, obj, s); break;
	case FEATURE_CALL_BLOCKING: rc = parse_blocking(&c, obj, s); break;
	case FEATURE_TIME_OF_DAY: rc = parse_tod(&c, obj, s); break;
	case FEATURE_CPL: rc = parse_cpl(&c, obj, s); break;
	default: rc = parse_empty(&c, obj, s); break;
	}
	if (rc) {
		feature_settings_free(s);
		return NULL;
	}
	return s;
}

struct feature_settings *feature_settings_parse(enum feature_kind kind, const char *json,
						size_t len, char *err, size_t errlen)
{
	char dummy[1];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	const char *name = (unsigned)kind < FEATURE_KINDS ? feature_kinds[kind].name : "feature";
	if (!json || !len) {
		json = "{}";
		len = 2;
	}
	if (len > FEATURE_SETTINGS_MAX_BYTES) {
		snprintf(err, errlen, "%s: settings are larger than %d bytes", name,
			 FEATURE_SETTINGS_MAX_BYTES);
		return NULL;
	}
	json_error_t je;
	json_t *obj = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!obj) {
		snprintf(err, errlen, "%s: settings are not valid JSON (line %d, column %d)", name,
			 je.line, je.column);
		return NULL;
	}
	struct feature_settings *s = feature_settings_from_json(kind, obj, err, errlen);
	json_decref(obj);
	return s;
}

void feature_settings_free(struct feature_settings *s)
{
	if (!s)
		return;
	if (s->kind == FEATURE_CALL_SCREENING)
		free(s->u.screening.callers);
	else if (s->kind == FEATURE_CALL_BLOCKING)
		free(s->u.blocking.prefixes);
	else if (s->kind == FEATURE_CPL)
		free(s->u.cpl.script);
	free(s);
}
