#include "config.h"

#include "text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG_MAX 256

struct parser {
	const struct config_key *table;
	void *conf;
	const char *name;          /* file name for messages */
	unsigned line;
	char *err;
	size_t errlen;
	unsigned *seen;            /* per key: line that first set it, 0 = none */
	char section[CONFIG_KEY_MAX + 1];
	char item[CONFIG_LINE_MAX + 1]; /* the current item, unquoted */
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *p, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->errlen == 0)
		return -1;
	if (p->line)
		snprintf(p->err, p->errlen, "%s:%u: %s", p->name, p->line, msg);
	else
		snprintf(p->err, p->errlen, "%s: %s", p->name, msg);
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Key names: words of [a-z0-9_-], each starting with a letter, joined by
 * single dots. */
static bool valid_key(const char *s, size_t n)
{
	if (n == 0 || n > CONFIG_KEY_MAX)
		return false;
	bool word_start = true;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (word_start)
				return false;
			word_start = true;
			continue;
		}
		if (word_start ? !(s[i] >= 'a' && s[i] <= 'z') : !is_word_char(s[i]))
			return false;
		word_start = false;
	}
	return !word_start;
}

/* A short printable rendering of untrusted bytes for a message. */
static const char *shown(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\'') {
			buf[o++] = (char)c;
		} else {
			snprintf(buf + o, cap - o, "\\x%02x", c);
			o += 4;
		}
		if (i + 1 < n && o + 5 >= cap) {
			buf[o - 3] = buf[o - 2] = buf[o - 1] = '.';
			break;
		}
	}
	buf[o] = '\0';
	return buf;
}

/* ---- items: one bare word or quoted string ------------------------------ */


/*
 * Reads the next item of s[*pos..n) into out (NUL-terminated, *outlen
 * bytes; out has room for n + 1). Returns 1 with an item, 0 at the end of
 * the value (end of line or a comment), -1 with msg set.
 */
static int next_item(const char *s, size_t n, size_t *pos, char *out, size_t *outlen, char *msg,
		     size_t msglen)
{
	size_t i = *pos, o = 0;
	char tmp[16];
	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] == '#') {
		*pos = i;
		return 0;
	}
	if (s[i] == '"') {
		for (i++;; i++) {
			if (i == n) {
				snprintf(msg, msglen, "unterminated quoted string");
				return -1;
			}
			if (s[i] == '"')
				break;
			if (s[i] != '\\') {
				out[o++] = s[i];
				continue;
			}
			if (++i == n) {
				snprintf(msg, msglen, "unterminated quoted string");
				return -1;
			}
			switch (s[i]) {
			case '"': out[o++] = '"'; break;
			case '\\': out[o++] = '\\'; break;
			case 'n': out[o++] = '\n'; break;
			case 'r': out[o++] = '\r'; break;
			case 't': out[o++] = '\t'; break;
			case 'x': {
				int hi = i + 1 < n ? hex_digit_value(s[i + 1]) : -1;
				int lo = i + 2 < n ? hex_digit_value(s[i + 2]) : -1;
				if (hi < 0 || lo < 0) {
					snprintf(msg, msglen, "\\x needs two hex digits");
					return -1;
				}
				if (hi == 0 && lo == 0) {
					snprintf(msg, msglen, "\\x00 is not allowed in a string");
					return -1;
				}
				out[o++] = (char)(hi << 4 | lo);
				i += 2;
				break;
			}
			default:
				snprintf(msg, msglen, "unknown escape '\\%s' in a quoted string",
					 shown(s + i, 1, tmp, sizeof(tmp)));
				return -1;
			}
		}
		i++; /* the closing quote */
		if (i < n && !is_blank(s[i]) && s[i] != '#') {
			snprintf(msg, msglen, "expected a blank after the closing quote");
			return -1;
		}
	} else {
		while (i < n && !is_blank(s[i]) && s[i] != '#') {
			if (s[i] == '"') {
				snprintf(msg, msglen,
					 "'\"' inside a bare word (quote the whole value)");
				return -1;
			}
			out[o++] = s[i++];
		}
	}
	out[o] = '\0';
	*outlen = o;
	*pos = i;
	return 1;
}

/* ---- values ------------------------------------------------------------- */

static bool bounded(const struct config_key *k)
{
	return k->min != 0 || k->max != 0;
}

/* Decimal digits to an unsigned value; -1 on overflow or a non-digit. */
static int parse_digits(const char *s, size_t n, unsigned long long lim, unsigned long long *v)
{
	unsigned long long x = 0;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (lim - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

static const struct {
	const char *name;
	uint64_t ms;
} units[] = {
	/* largest first: config_print writes durations in this order */
	{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

static void format_duration(uint64_t ms, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = '\0';
	if (ms == 0) {
		snprintf(buf, cap, "0s");
		return;
	}
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		uint64_t q = ms / units[u].ms;
		if (q == 0)
			continue;
		int w = snprintf(buf + o, cap - o, "%llu%s", (unsigned long long)q, units[u].name);
		if (w < 0 || (size_t)w >= cap - o)
			return;
		o += (size_t)w;
		ms -= q * units[u].ms;
	}
}

static int parse_duration(const char *s, size_t n, uint64_t *out)
{
	uint64_t total = 0;
	size_t i = 0;
	if (n == 0)
		return -1;
	while (i < n) {
		size_t d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		unsigned long long v;
		if (parse_digits(s + d, i - d, LLONG_MAX, &v) < 0)
			return -1;
		size_t u0 = i;
		while (i < n && s[i] >= 'a' && s[i] <= 'z')
			i++;
		size_t u;
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (strlen(units[u].name) == i - u0 && !memcmp(s + u0, units[u].name, i - u0))
				break;
		if (u == sizeof(units) / sizeof(units[0]))
			return -1;
		if (v > (LLONG_MAX - total) / units[u].ms)
			return -1;
		total += v * units[u].ms;
	}
	*out = total;
	return 0;
}

/* host:port or [v6]:port, into a normalised address. */
static int parse_addr(const char *s, size_t n, struct config_addr *a, char *msg, size_t msglen)
{
	char tmp[80];
	const char *colon;
	size_t hlen;

	memset(a, 0, sizeof(*a));
	if (n > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', n);
		if (!close || close + 1 == s + n || close[1] != ':') {
			snprintf(msg, msglen, "'%s' is not [IPv6 address]:port",
				 shown(s, n, tmp, sizeof(tmp)));
			return -1;
		}
		char lit[64];
		struct in6_addr in6;
		hlen = (size_t)(close - s - 1);
		if (hlen < sizeof(lit)) {
			memcpy(lit, s + 1, hlen);
			lit[hlen] = '\0';
		}
		if (hlen >= sizeof(lit) || inet_pton(AF_INET6, lit, &in6) != 1) {
			snprintf(msg, msglen, "'%s' is not an IPv6 address",
				 shown(s + 1, hlen, tmp, sizeof(tmp)));
			return -1;
		}
		inet_ntop(AF_INET6, &in6, a->host, sizeof(a->host));
		a->family = AF_INET6;
		colon = close + 1;
	} else {
		colon = n ? memrchr(s, ':', n) : NULL;
		if (!colon) {
			snprintf(msg, msglen, "'%s' is not host:port", shown(s, n, tmp, sizeof(tmp)));
			return -1;
		}
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen)) {
			snprintf(msg, msglen, "an IPv6 address needs brackets, as in [::1]:5060");
			return -1;
		}
		if (hlen == 0 || hlen > CONFIG_HOST_MAX) {
			snprintf(msg, msglen, "'%s' is not host:port", shown(s, n, tmp, sizeof(tmp)));
			return -1;
		}
		bool numeric = true;
		for (size_t i = 0; i < hlen; i++)
			numeric = numeric && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.');
		memcpy(a->host, s, hlen);
		a->host[hlen] = '\0';
		if (numeric) {
			struct in_addr in4;
			if (inet_pton(AF_INET, a->host, &in4) != 1) {
				snprintf(msg, msglen, "'%s' is not an IPv4 address",
					 shown(s, hlen, tmp, sizeof(tmp)));
				return -1;
			}
			a->family = AF_INET;
		} else {
			/* a DNS name: labels of letters, digits, '-' and '_'
			 * (SRV-style names), 1 to 63 bytes each */
			size_t label = 0;
			for (size_t i = 0; i <= hlen; i++) {
				char c = a->host[i];
				if (c >= 'A' && c <= 'Z')
					a->host[i] = c = (char)(c + 32);
				if (c == '.' || c == '\0') {
					if (label == 0 || label > 63)
						goto badname;
					label = 0;
				} else if (is_word_char(c)) {
					label++;
				} else {
					goto badname;
				}
			}
			a->family = AF_UNSPEC;
		}
	}
	unsigned long long port;
	size_t plen = (size_t)(s + n - colon - 1);
	if (parse_digits(colon + 1, plen, 65535, &port) < 0 || plen > 5) {
		snprintf(msg, msglen, "'%s' is not a port (0-65535)",
			 shown(colon + 1, plen, tmp, sizeof(tmp)));
		return -1;
	}
	a->port = (uint16_t)port;
	return 0;
badname:
	snprintf(msg, msglen, "'%s' is not a host name or address",
		 shown(s, hlen, tmp, sizeof(tmp)));
	return -1;
}

/* Parses one item as type t for key k. Strings are copied to the heap. */
static int parse_value(const struct config_key *k, enum config_type t, const char *s, size_t n,
		       union config_value *v, char *msg, size_t msglen)
{
	char tmp[80], lo[32], hi[32];
	unsigned long long u;

	memset(v, 0, sizeof(*v));
	switch (t) {
	case CONFIG_STRING:
		v->str = malloc(n + 1);
		if (!v->str) {
			snprintf(msg, msglen, "out of memory");
			return -1;
		}
		memcpy(v->str, s, n + 1);
		return 0;
	case CONFIG_INT: {
		bool neg = n > 0 && s[0] == '-';
		if (parse_digits(s + neg, n - neg, ULLONG_MAX, &u) < 0) {
			snprintf(msg, msglen, "'%s' is not an integer", shown(s, n, tmp, sizeof(tmp)));
			return -1;
		}
		if (u > (neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX)) {
			snprintf(msg, msglen, "%s is out of range", shown(s, n, tmp, sizeof(tmp)));
			return -1;
		}
		v->num = neg ? (long long)(0 - u) : (long long)u;
		if (bounded(k) && (v->num < k->min || v->num > k->max)) {
			snprintf(msg, msglen, "%lld is out of range %lld..%lld", v->num, k->min,
				 k->max);
			return -1;
		}
		return 0;
	}
	case CONFIG_BOOL:
		if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on")) {
			v->flag = true;
			return 0;
		}
		if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off")) {
			v->flag = false;
			return 0;
		}
		snprintf(msg, msglen, "'%s' is not a boolean (yes or no)",
			 shown(s, n, tmp, sizeof(tmp)));
		return -1;
	case CONFIG_DURATION:
		if (parse_duration(s, n, &v->ms) < 0) {
			snprintf(msg, msglen,
				 "'%s' is not a duration (a number and a unit: ms s m h d, as in "
				 "500ms, 32s, 1m30s)",
				 shown(s, n, tmp, sizeof(tmp)));
			return -1;
		}
		if (bounded(k) && (v->ms < (uint64_t)k->min || v->ms > (uint64_t)k->max)) {
			format_duration(v->ms, tmp, sizeof(tmp));
			format_duration((uint64_t)k->min, lo, sizeof(lo));
			format_duration((uint64_t)k->max, hi, sizeof(hi));
			snprintf(msg, msglen, "%s is out of range %s..%s", tmp, lo, hi);
			return -1;
		}
		return 0;
	case CONFIG_ADDR:
		return parse_addr(s, n, &v->addr, msg, msglen);
	case CONFIG_ENUM:
		for (int i = 0; k->names && k->names[i]; i++) {
			if (!strcmp(s, k->names[i])) {
				v->idx = i;
				return 0;
			}
		}
		{
			size_t o = (size_t)snprintf(msg, msglen, "'%s' is not one of:",
						    shown(s, n, tmp, sizeof(tmp)));
			for (int i = 0; k->names && k->names[i] && o < msglen; i++)
				o += (size_t)snprintf(msg + o, msglen - o, "%s %s", i ? "," : "",
						      k->names[i]);
		}
		return -1;
	case CONFIG_LIST:
		break;
	}
	snprintf(msg, msglen, "bad type in the config table");
	return -1;
}

static void free_value(enum config_type t, union config_value *v)
{
	if (t == CONFIG_STRING)
		free(v->str);
	memset(v, 0, sizeof(*v));
}

static void *member(const struct config_key *k, const void *conf)
{
	return (char *)conf + k->offset;
}

/* Moves a scalar value into its member of conf. */
static void store(const struct config_key *k, void *conf, const union config_value *v)
{
	void *m = member(k, conf);
	switch (k->type) {
	case CONFIG_STRING: *(char **)m = v->str; break;
	case CONFIG_INT: *(long long *)m = v->num; break;
	case CONFIG_BOOL: *(bool *)m = v->flag; break;
	case CONFIG_DURATION: *(uint64_t *)m = v->ms; break;
	case CONFIG_ADDR: *(struct config_addr *)m = v->addr; break;
	case CONFIG_ENUM: *(int *)m = v->idx; break;
	case CONFIG_LIST: break;
	}
}

static union config_value fetch(const struct config_key *k, const void *conf)
{
	union config_value v;
	const void *m = member(k, conf);
	memset(&v, 0, sizeof(v));
	switch (k->type) {
	case CONFIG_STRING: v.str = *(char *const *)m; break;
	case CONFIG_INT: v.num = *(const long long *)m; break;
	case CONFIG_BOOL: v.flag = *(const bool *)m; break;
	case CONFIG_DURATION: v.ms = *(const uint64_t *)m; break;
	case CONFIG_ADDR: v.addr = *(const struct config_addr *)m; break;
	case CONFIG_ENUM: v.idx = *(const int *)m; break;
	case CONFIG_LIST: break;
	}
	return v;
}

static size_t member_size(enum config_type t)
{
	switch (t) {
	case CONFIG_STRING: return sizeof(char *);
	case CONFIG_INT: return sizeof(long long);
	case CONFIG_BOOL: return sizeof(bool);
	case CONFIG_DURATION: return sizeof(uint64_t);
	case CONFIG_ADDR: return sizeof(struct config_addr);
	case CONFIG_ENUM: return sizeof(int);
	case CONFIG_LIST: return sizeof(struct config_list);
	}
	return 0;
}

/*
 * Reads the items of a value (s[*pos..n)) into key k of conf, or, when
 * conf is NULL, only checks them (the table check of defaults). Returns
 * 0 or -1 with msg set.
 */
static int set_items(struct parser *p, const struct config_key *k, void *conf, const char *s,
		     size_t n, char *msg, size_t msglen)
{
	size_t pos = 0, len, count = 0;
	int r;
	while ((r = next_item(s, n, &pos, p->item, &len, msg, msglen)) == 1) {
		union config_value v;
		enum config_type t = k->type == CONFIG_LIST ? k->elem : k->type;
		if (k->type != CONFIG_LIST && count > 0) {
			snprintf(msg, msglen, "takes one value (quote a string with blanks)");
			return -1;
		}
		count++;
		if (parse_value(k, t, p->item, len, &v, msg, msglen) < 0)
			return -1;
		if (!conf) {
			free_value(t, &v);
			continue;
		}
		if (k->type != CONFIG_LIST) {
			store(k, conf, &v);
			continue;
		}
		struct config_list *l = member(k, conf);
		if (l->n == CONFIG_LIST_MAX) {
			free_value(t, &v);
			snprintf(msg, msglen, "more than %d items", CONFIG_LIST_MAX);
			return -1;
		}
		if ((l->n & (l->n - 1)) == 0) { /* 0, 1, 2, 4...: grow by doubling */
			union config_value *nv = realloc(l->v, (l->n ? 2 * l->n : 1) * sizeof(*nv));
			if (!nv) {
				free_value(t, &v);
				snprintf(msg, msglen, "out of memory");
				return -1;
			}
			l->v = nv;
		}
		l->v[l->n++] = v;
	}
	if (r < 0)
		return -1;
	if (count == 0 && k->type != CONFIG_LIST) {
		snprintf(msg, msglen, "needs a value");
		return -1;
	}
	return 0;
}

/* ---- lines -------------------------------------------------------------- */

static const struct config_key *find_key(const struct config_key *table, const char *name)
{
	for (const struct config_key *k = table; k->name; k++)
		if (!strcmp(k->name, name))
			return k;
	return NULL;
}

static int parse_section(struct parser *p, const char *s, size_t n, size_t i)
{
	char tmp[80];
	size_t start = ++i;
	while (i < n && s[i] != ']')
		i++;
	if (i == n)
		return fail(p, "expected ']' to end the section name");
	size_t len = i - start;
	if (!valid_key(s + start, len) || len + 1 > CONFIG_KEY_MAX)
		return fail(p, "bad section name '%s'", shown(s + start, len, tmp, sizeof(tmp)));
	for (i++; i < n && is_blank(s[i]); i++)
		;
	if (i < n && s[i] != '#')
		return fail(p, "unexpected text after the section name");
	memcpy(p->section, s + start, len);
	p->section[len] = '.';
	p->section[len + 1] = '\0';
	for (const struct config_key *k = p->table; k->name; k++)
		if (!strncmp(k->name, p->section, len + 1))
			return 0;
	p->section[len] = '\0';
	return fail(p, "unknown section '%s'", p->section);
}

static int parse_line(struct parser *p, const char *s, size_t n)
{
	char tmp[80], msg[MSG_MAX], name[2 * CONFIG_KEY_MAX + 2];
	size_t i = 0;

	for (size_t j = 0; j < n; j++) {
		unsigned char c = (unsigned char)s[j];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(p, "control character 0x%02x", c);
	}
	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	if (s[i] == '[')
		return parse_section(p, s, n, i);

	size_t start = i;
	while (i < n && !is_blank(s[i]) && s[i] != '=' && s[i] != '#')
		i++;
	size_t klen = i - start;
	if (klen == 0)
		return fail(p, "expected a key before '='");
	if (!valid_key(s + start, klen))
		return fail(p, "bad key name '%s'", shown(s + start, klen, tmp, sizeof(tmp)));
	snprintf(name, sizeof(name), "%s%.*s", p->section, (int)klen, s + start);
	while (i < n && is_blank(s[i]))
		i++;
	if (i == n || s[i] != '=')
		return fail(p, "expected '=' after '%s'", name);
	i++;

	const struct config_key *k = find_key(p->table, name);
	if (!k)
		return fail(p, "unknown key '%s'", name);
	size_t idx = (size_t)(k - p->table);
	if (p->seen[idx] && k->type != CONFIG_LIST)
		return fail(p, "%s: duplicate key (first set on line %u)", name, p->seen[idx]);
	if (!p->seen[idx])
		p->seen[idx] = p->line;
	if (set_items(p, k, p->conf, s + i, n - i, msg, sizeof(msg)) < 0)
		return fail(p, "%s: %s", name, msg);
	return 0;
}

/* Zeroes the table's members of conf without freeing anything. */
static void clear(const struct config_key *table, void *conf)
{
	for (const struct config_key *k = table; k->name; k++)
		memset(member(k, conf), 0, member_size(k->type));
}

int config_table_check(const struct config_key *table, char *err, size_t errlen)
{
	struct parser *p = calloc(1, sizeof(*p));
	char msg[MSG_MAX];
	int rc = -1;

	if (!p) {
		snprintf(err, errlen, "config table: out of memory");
		return -1;
	}
	p->err = err;
	p->errlen = errlen;
	p->name = "config table";
	for (const struct config_key *k = table; k->name; k++) {
		enum config_type t = k->type == CONFIG_LIST ? k->elem : k->type;
		if (!valid_key(k->name, strlen(k->name))) {
			fail(p, "bad key name '%s'", k->name);
			goto out;
		}
		for (const struct config_key *o = table; o != k; o++) {
			if (!strcmp(o->name, k->name)) {
				fail(p, "key '%s' twice", k->name);
				goto out;
			}
		}
		if (k->type < CONFIG_STRING || k->type > CONFIG_LIST || t < CONFIG_STRING ||
		    t >= CONFIG_LIST) {
			fail(p, "%s: bad type", k->name);
			goto out;
		}
		if (k->min > k->max || (t == CONFIG_DURATION && k->min < 0)) {
			fail(p, "%s: bad range", k->name);
			goto out;
		}
		if ((t == CONFIG_ENUM) != (k->names != NULL) || (k->names && !k->names[0])) {
			fail(p, "%s: names[] is for enums, and an enum needs names", k->name);
			goto out;
		}
		for (size_t i = 0; k->names && k->names[i]; i++) {
			size_t len = strlen(k->names[i]);
			for (size_t j = 0; j < len; j++) {
				char c = k->names[i][j];
				if (!(c > 0x20 && c < 0x7f) || c == '"' || c == '#')
					len = 0;
			}
			if (len == 0) {
				fail(p, "%s: enum name '%s' is not a bare word", k->name,
				     k->names[i]);
				goto out;
			}
		}
		if (k->desc && strpbrk(k->desc, "\r\n")) {
			fail(p, "%s: the description must be one line", k->name);
			goto out;
		}
		if (k->def && strlen(k->def) > CONFIG_LINE_MAX) {
			fail(p, "%s: default longer than a line", k->name);
			goto out;
		}
		if (k->def && set_items(p, k, NULL, k->def, strlen(k->def), msg, sizeof(msg)) < 0) {
			fail(p, "%s: default: %s", k->name, msg);
			goto out;
		}
	}
	rc = 0;
out:
	free(p);
	return rc;
}

int config_load_buffer(const struct config_key *table, void *conf, const char *buf, size_t len,
		       const char *name, char *err, size_t errlen)
{
	struct parser *p;
	size_t nkeys = 0;
	char msg[MSG_MAX];

	clear(table, conf);
	if (config_table_check(table, err, errlen) < 0)
		return -1;
	for (const struct config_key *k = table; k->name; k++)
		nkeys++;
	p = calloc(1, sizeof(*p));
	if (p)
		p->seen = calloc(nkeys + 1, sizeof(*p->seen));
	if (!p || !p->seen) {
		free(p);
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	p->table = table;
	p->conf = conf;
	p->name = name ? name : "config";
	p->err = err;
	p->errlen = errlen;

	if (len > CONFIG_FILE_MAX) {
		fail(p, "larger than %d bytes", CONFIG_FILE_MAX);
		goto bad;
	}
	for (size_t off = 0; off < len;) {
		const char *s = buf + off;
		const char *nl = memchr(s, '\n', len - off);
		size_t n = nl ? (size_t)(nl - s) : len - off;
		off += n + (nl != NULL);
		p->line++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (n > CONFIG_LINE_MAX) {
			fail(p, "line longer than %d bytes", CONFIG_LINE_MAX);
			goto bad;
		}
		if (parse_line(p, s, n) < 0)
			goto bad;
	}
	p->line = 0;
	for (size_t i = 0; i < nkeys; i++) {
		const struct config_key *k = &table[i];
		if (p->seen[i])
			continue;
		if (!k->def) {
			fail(p, "missing required key '%s'", k->name);
			goto bad;
		}
		if (set_items(p, k, conf, k->def, strlen(k->def), msg, sizeof(msg)) < 0) {
			fail(p, "%s: default: %s", k->name, msg);
			goto bad;
		}
	}
	free(p->seen);
	free(p);
	return 0;
bad:
	config_free(table, conf);
	free(p->seen);
	free(p);
	return -1;
}

int config_load(const struct config_key *table, void *conf, const char *path, char *err,
		size_t errlen)
{
	size_t len = 0, cap = 64 * 1024;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	clear(table, conf);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Read up to one byte past the limit, so that a larger file (or an
	 * endless one, like a FIFO) is refused rather than read whole. */
	for (;;) {
		if (len == cap || !buf) {
			if (buf)
				cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_FILE_MAX)
			break;
	}
	close(fd);
	int rc = config_load_buffer(table, conf, buf, len, path, err, errlen);
	free(buf);
	return rc;
fail:
	close(fd);
	free(buf);
	return -1;
}

void config_free(const struct config_key *table, void *conf)
{
	for (const struct config_key *k = table; k->name; k++) {
		if (k->type == CONFIG_STRING) {
			free(*(char **)member(k, conf));
		} else if (k->type == CONFIG_LIST) {
			struct config_list *l = member(k, conf);
			for (size_t i = 0; i < l->n; i++)
				free_value(k->elem, &l->v[i]);
			free(l->v);
		}
	}
	clear(table, conf);
}

const char *config_enum_name(const struct config_key *key, int idx)
{
	for (int i = 0; key->names && key->names[i]; i++)
		if (i == idx)
			return key->names[i];
	return "?";
}

static void print_string(const char *s, FILE *out)
{
	fputc('"', out);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void print_value(const struct config_key *k, enum config_type t,
			const union config_value *v, FILE *out)
{
	char buf[64];
	switch (t) {
	case CONFIG_STRING: print_string(v->str, out); break;
	case CONFIG_INT: fprintf(out, "%lld", v->num); break;
	case CONFIG_BOOL: fputs(v->flag ? "yes" : "no", out); break;
	case CONFIG_DURATION:
		format_duration(v->ms, buf, sizeof(buf));
		fputs(buf, out);
		break;
	case CONFIG_ADDR:
		fprintf(out, v->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u", v->addr.host,
			v->addr.port);
		break;
	case CONFIG_ENUM: fputs(config_enum_name(k, v->idx), out); break;
	case CONFIG_LIST: break;
	}
}

int config_print(const struct config_key *table, const void *conf, FILE *out)
{
	for (const struct config_key *k = table; k->name; k++) {
		if (k != table)
			fputc('\n', out);
		if (k->desc)
			fprintf(out, "# %s\n", k->desc);
		if (k->type != CONFIG_LIST) {
			union config_value v = fetch(k, conf);
			fprintf(out, "%s = ", k->name);
			print_value(k, k->type, &v, out);
			fputc('\n', out);
			continue;
		}
		const struct config_list *l = member(k, conf);
		if (l->n == 0)
			fprintf(out, "%s =\n", k->name);
		for (size_t i = 0; i < l->n; i++) {
			fprintf(out, "%s = ", k->name);
			print_value(k, k->elem, &l->v[i], out);
			fputc('\n', out);
		}
	}
	return ferror(out) || fflush(out) != 0 ? -1 : 0;
}

int config_check(const struct config_key *table, void *conf, const char *path, FILE *out)
{
	char err[512];
	if (config_load(table, conf, path, err, sizeof(err)) < 0) {
		fprintf(out, "%s\n", err);
		return -1;
	}
	config_free(table, conf);
	fprintf(out, "configuration OK\n");
	return 0;
}
