/*
 * CPL's <mail>: the mailto URL (RFC 6068) and the message (RFC 3880
 * section 7.1.1). Pure functions; see mail.h.
 */
#include "feature/mail.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "sip/build.h"
#include "sip/uri.h"

#define VALUE_MAX 256 /* a value from SIP, in the message */

static void set_err(char *err, size_t cap, const char *msg)
{
	if (cap)
		snprintf(err, cap, "%s", msg);
}

/* ---- addresses ------------------------------------------------------------- */

/* RFC 5322 atext less what a mail system might read as a program or a
 * file to deliver to (|, /, `, $, {, }): plain addresses only. */
static bool local_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr(".+-_=!#%&'*?^~", c));
}

bool mail_addr_valid(const char *s, size_t len)
{
	const char *at = memchr(s, '@', len);
	if (!at || len > MAIL_ADDR_MAX)
		return false;
	size_t ll = (size_t)(at - s), dl = len - ll - 1;
	if (ll == 0 || ll > 64 || dl == 0 || dl > 253)
		return false;
	if (s[0] == '.' || s[ll - 1] == '.')
		return false;
	for (size_t i = 0; i < ll; i++)
		if (!local_char((unsigned char)s[i]) || (s[i] == '.' && s[i + 1] == '.'))
			return false;
	/* the domain: LDH labels */
	const char *d = at + 1;
	size_t label = 0;
	for (size_t i = 0; i < dl; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && label > 0))
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && d[dl - 1] != '-';
}

/* ---- UTF-8 ------------------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at s (n bytes left), its
 * code point in *cp; 0 when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2, min = 0x80, c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, min = 0x800, c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, min = 0x10000, c &= 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Characters that end or disturb a line: C0, DEL, C1, U+2028, U+2029. */
static bool is_control(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029;
}

/* ---- the URL ------------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* %-decodes s[0..n) into out (cap bytes, NUL-terminated). Returns the
 * length, -1 for a bad escape or a NUL, -2 when it does not fit. */
static long pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int h, l;
			if (i + 2 >= n || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0)
				return -1;
			c = h * 16 + l;
			i += 2;
		}
		if (c == 0)
			return -1;
		if (o + 1 >= cap)
			return -2;
		out[o++] = (char)c;
	}
	out[o] = 0;
	return (long)o;
}

/* Adds the comma-separated addresses of s (decoded) as kind. */
static int add_addrs(struct mail_url *u, const char *s, size_t n, enum mail_rcpt_kind kind,
		     char *err, size_t errlen)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ',')
			continue;
		size_t len = i - start;
		if (!mail_addr_valid(s + start, len)) {
			set_err(err, errlen, "an address is not a plain addr-spec (local@domain)");
			return -1;
		}
		if (u->n_rcpt >= MAIL_MAX_RCPTS) {
			set_err(err, errlen, "too many addresses");
			return -1;
		}
		u->rcpt[u->n_rcpt].kind = (uint8_t)kind;
		memcpy(u->rcpt[u->n_rcpt].addr, s + start, len);
		u->rcpt[u->n_rcpt].addr[len] = 0;
		u->n_rcpt++;
		if (kind == MAIL_TO)
			u->n_to++;
		start = i + 1;
	}
	return 0;
}

/* Checks a decoded subject (no controls at all) or body (line breaks and
 * TAB allowed; line breaks made LF) in place; valid UTF-8. Returns the new
 * length or -1. */
static long check_text(char *s, size_t n, bool body)
{
	size_t o = 0, line = 0;
	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t k = utf8_seq((const unsigned char *)s + i, n - i, &cp);
		if (!k)
			return -1;
		if (body && (cp == '\r' || cp == '\n')) {
			if (cp == '\r' && i + 1 < n && s[i + 1] == '\n')
				i++;
			i++;
			s[o++] = '\n';
			line = 0;
			continue;
		}
		if (is_control(cp) && !(body && cp == '\t'))
			return -1;
		memmove(s + o, s + i, k);
		o += k;
		i += k;
		if ((line += k) > 900)
			return -1; /* a line must stay under RFC 5322's 998 */
	}
	s[o] = 0;
	return (long)o;
}

static bool name_is(const char *name, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(name, lit, n) == 0;
}

int mail_url_parse(const char *url, size_t len, struct mail_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof(*u));
	if (len > MAIL_URL_MAX) {
		set_err(err, errlen, "the URL is too long");
		return -1;
	}
	if (len < 7 || strncasecmp(url, "mailto:", 7) != 0) {
		set_err(err, errlen, "not a mailto URL");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)url[i];
		if (c <= 0x20 || c >= 0x7f) {
			set_err(err, errlen, "a character that must be %-encoded (RFC 6068)");
			return -1;
		}
		if (c == '#') {
			set_err(err, errlen, "a fragment (#) in the URL");
			return -1;
		}
	}
	const char *p = url + 7, *end = url + len;
	const char *q = memchr(p, '?', (size_t)(end - p));
	const char *to_end = q ? q : end;
	char buf[MAIL_BODY_MAX + 1];
	long n;
	if (to_end > p) {
		if ((n = pct_decode(p, (size_t)(to_end - p), buf, sizeof(buf))) < 0) {
			set_err(err, errlen,
				n == -1 ? "a bad %-escape or a NUL" : "the addresses are too long");
			return -1;
		}
		if (add_addrs(u, buf, (size_t)n, MAIL_TO, err, errlen) < 0)
			return -1;
	}
	for (const char *h = q ? q + 1 : end; h < end;) {
		const char *amp = memchr(h, '&', (size_t)(end - h));
		const char *hend = amp ? amp : end;
		const char *eq = memchr(h, '=', (size_t)(hend - h));
		if (!eq || eq == h) {
			set_err(err, errlen,
				"a header field without a name or a value (name=value)");
			return -1;
		}
		char name[32];
		long nl = pct_decode(h, (size_t)(eq - h), name, sizeof(name));
		if (nl < 0) {
			set_err(err, errlen,
				"a header field name that is too long or badly %-encoded");
			return -1;
		}
		if ((n = pct_decode(eq + 1, (size_t)(hend - eq - 1), buf, sizeof(buf))) < 0) {
			set_err(err, errlen,
				n == -1 ? "a bad %-escape or a NUL"
					: "a header field value too long");
			return -1;
		}
		if (name_is(name, (size_t)nl, "to") || name_is(name, (size_t)nl, "cc") ||
		    name_is(name, (size_t)nl, "reply-to")) {
			enum mail_rcpt_kind k = name_is(name, (size_t)nl, "to")	  ? MAIL_TO
						: name_is(name, (size_t)nl, "cc") ? MAIL_CC
										  : MAIL_REPLY_TO;
			if (n > 0 && add_addrs(u, buf, (size_t)n, k, err, errlen) < 0)
				return -1;
		} else if (name_is(name, (size_t)nl, "subject")) {
			if (u->has_subject) {
				set_err(err, errlen, "subject given twice");
				return -1;
			}
			if (n > MAIL_SUBJECT_MAX) {
				set_err(err, errlen, "the subject is too long");
				return -1;
			}
			if (check_text(buf, (size_t)n, false) < 0) {
				set_err(err, errlen,
					"the subject has a control character (CR, LF...) or "
					"invalid UTF-8");
				return -1;
			}
			memcpy(u->subject, buf, (size_t)n + 1);
			u->has_subject = true;
		} else if (name_is(name, (size_t)nl, "body")) {
			if (u->has_body) {
				set_err(err, errlen, "body given twice");
				return -1;
			}
			if ((n = check_text(buf, (size_t)n, true)) < 0) {
				set_err(err, errlen,
					"the body has a control character, a line too long or "
					"invalid UTF-8");
				return -1;
			}
			memcpy(u->body, buf, (size_t)n + 1);
			u->has_body = true;
		} else if (name_is(name, (size_t)nl, "from")) {
			/* RFC 3880 7.1.1 item 2: the server's From overrides it */
		} else {
			char msg[96];
			bool token = nl > 0;
			for (long i = 0; i < nl; i++)
				token =
				    token && (local_char((unsigned char)name[i]) && name[i] != '%');
			if (token)
				snprintf(msg, sizeof(msg), "header field %.31s is not allowed",
					 name);
			else
				snprintf(msg, sizeof(msg), "a header field that is not allowed");
			set_err(err, errlen, msg);
			return -1;
		}
		h = amp ? amp + 1 : end;
	}
	if (!u->n_to) {
		set_err(err, errlen, "no address to send to");
		return -1;
	}
	return 0;
}

/* ---- the message ----------------------------------------------------------------- */

/* Copies the untrusted s into out (cap > max) as one safe line: valid
 * UTF-8 (an invalid byte becomes '?'), controls as blanks, runs of blanks
 * as one, no blank at either end, at most max bytes (cut at a character,
 * "..." added). Returns the length. */
static size_t clean(sip_str s, size_t max, char *out, size_t cap)
{
	size_t o = 0;
	bool cut = false, blank = true;
	if (max + 4 > cap)
		max = cap - 4;
	for (size_t i = 0; s.s && i < s.len;) {
		unsigned cp;
		size_t k = utf8_seq((const unsigned char *)s.s + i, s.len - i, &cp);
		const char *src = s.s + i;
		if (!k) {
			src = "?", k = 1, cp = '?';
			i++;
		} else {
			i += k;
		}
		if (is_control(cp) || cp == ' ') {
			if (blank)
				continue;
			src = " ", k = 1;
			blank = true;
		} else {
			blank = false;
		}
		if (o + k > max) {
			cut = true;
			break;
		}
		memcpy(out + o, src, k);
		o += k;
	}
	while (o && out[o - 1] == ' ')
		o--;
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = 0;
	return o;
}

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/* "Name: value" for a value clean() made (or ASCII without controls):
 * as is when ASCII, else RFC 2047 encoded words ("B", UTF-8) of whole
 * characters, one a folded line. */
static void put_header(struct sip_out *o, const char *name, const char *v)
{
	sip_out_printf(o, "%s: ", name);
	if (ascii(v)) {
		sip_out_put(o, v, strlen(v));
		sip_out_put(o, "\r\n", 2);
		return;
	}
	size_t n = strlen(v);
	for (size_t i = 0; i < n;) {
		/* at most 45 bytes a word: 60 of base64, 72 with =?UTF-8?B?...?= */
		size_t take = 0;
		while (i + take < n) {
			unsigned cp;
			size_t k = utf8_seq((const unsigned char *)v + i + take, n - i - take, &cp);
			if (!k)
				k = 1;
			if (take + k > 45)
				break;
			take += k;
		}
		unsigned char b64[64];
		int len = EVP_EncodeBlock(b64, (const unsigned char *)v + i, (int)take);
		if (i)
			sip_out_put(o, "\r\n ", 3);
		sip_out_put(o, "=?UTF-8?B?", 10);
		sip_out_put(o, (const char *)b64, (size_t)len);
		sip_out_put(o, "?=", 2);
		i += take;
	}
	sip_out_put(o, "\r\n", 2);
}

/* To, Cc, Reply-To: the URL's addresses of kind, one a line. */
static void put_addrs(struct sip_out *o, const char *name, const struct mail_url *u,
		      enum mail_rcpt_kind kind)
{
	bool first = true;
	for (unsigned i = 0; i < u->n_rcpt; i++) {
		if (u->rcpt[i].kind != kind)
			continue;
		sip_out_printf(o, first ? "%s: %s" : ",\r\n %s%s", first ? name : "",
			       u->rcpt[i].addr);
		first = false;
	}
	if (!first)
		sip_out_put(o, "\r\n", 2);
}

/* The caller's From as an e-mail address (RFC 3880 7.1.1 item 3): a sip
 * or sips URI's user@host, when that is a plain address. */
static bool caller_address(sip_str from_uri, char *out, size_t cap)
{
	struct sip_uri uri;
	if (!from_uri.s || from_uri.len > 512 ||
	    sip_uri_parse(&uri, from_uri.s, from_uri.len, NULL) < 0 ||
	    (uri.scheme != SIP_URI_SIP && uri.scheme != SIP_URI_SIPS) || !uri.user.len)
		return false;
	int n = snprintf(out, cap, "%.*s@%.*s", (int)uri.user.len, uri.user.s, (int)uri.host.len,
			 uri.host.s);
	return n > 0 && (size_t)n < cap && mail_addr_valid(out, (size_t)n);
}

static void format_date(time_t t, char *out, size_t cap)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	snprintf(out, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Whether s is safe inside a Message-ID (dot-atom text, bounded). */
static bool msgid_part(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 120)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!local_char((unsigned char)s[i]) || s[i] == '%')
			return false;
	return true;
}

int mail_build(const struct mail_url *u, const struct mail_call *c, const char *from_addr,
	       const char *msgid_left, const char *msgid_right, char *out, size_t cap)
{
	if (!from_addr || !mail_addr_valid(from_addr, strlen(from_addr)) ||
	    !msgid_part(msgid_left) || !msgid_part(msgid_right) || !u->n_to || cap == 0)
		return -1;
	struct sip_out o = {out, cap - 1, 0};
	char disp[VALUE_MAX + 4], furi[VALUE_MAX + 4], tmp[1024], date[64],
	    reply[MAIL_ADDR_MAX + 2];
	clean(c->from_display, 64, disp, sizeof(disp));
	clean(c->from_uri, VALUE_MAX, furi, sizeof(furi));
	char caller[sizeof(disp) + sizeof(furi) + 8];
	if (disp[0] && furi[0])
		snprintf(caller, sizeof(caller), "\"%s\" <%s>", disp, furi);
	else
		snprintf(caller, sizeof(caller), "%s",
			 furi[0]   ? furi
			 : disp[0] ? disp
				   : "unknown caller");

	sip_out_printf(&o, "From: %s\r\n", from_addr);
	put_addrs(&o, "To", u, MAIL_TO);
	put_addrs(&o, "Cc", u, MAIL_CC);
	bool has_reply = false;
	for (unsigned i = 0; i < u->n_rcpt; i++)
		has_reply = has_reply || u->rcpt[i].kind == MAIL_REPLY_TO;
	if (has_reply)
		put_addrs(&o, "Reply-To", u, MAIL_REPLY_TO);
	else if (caller_address(c->from_uri, reply, sizeof(reply)))
		sip_out_printf(&o, "Reply-To: %s\r\n", reply);
	/* the subject: the URL's, else [CPL] and the call's (7.1.1 item 1),
	 * else [CPL] and who called */
	char subj[VALUE_MAX + 4];
	if (u->has_subject)
		snprintf(tmp, sizeof(tmp), "%s", u->subject);
	else if (clean(c->subject, 128, subj, sizeof(subj)))
		snprintf(tmp, sizeof(tmp), "[CPL] %s", subj);
	else
		snprintf(tmp, sizeof(tmp), "[CPL] Call from %s", caller);
	put_header(&o, "Subject", tmp);
	format_date(c->when, date, sizeof(date));
	sip_out_printf(&o, "Date: %s\r\n", date);
	sip_out_printf(&o, "Message-ID: <%s@%s>\r\n", msgid_left, msgid_right);
	sip_out_printf(&o, "MIME-Version: 1.0\r\n"
			   "Content-Type: text/plain; charset=UTF-8\r\n"
			   "Content-Transfer-Encoding: 8bit\r\n"
			   "Auto-Submitted: auto-generated\r\n"
			   "\r\n");

	/* the body: the call (7.1.1 item 4) and the script, then the URL's */
	char v[VALUE_MAX + 4];
	if (!c->subscriber ||
	    !clean(sip_str_make(c->subscriber, strlen(c->subscriber)), VALUE_MAX, v, sizeof(v)))
		snprintf(v, sizeof(v), "a subscriber");
	sip_out_printf(&o,
		       "A call processing (CPL) script of %s sent this notice (%s call).\r\n\r\n",
		       v, c->outgoing ? "outgoing" : "incoming");
	sip_out_put(&o, "Caller:      ", 13);
	sip_out_put(&o, caller, strlen(caller));
	sip_out_put(&o, "\r\n", 2);
	static const struct {
		const char *label;
		size_t off;
	} fields[] = {
	    {"Called:      ", offsetof(struct mail_call, to_uri)},
	    {"Request-URI: ", offsetof(struct mail_call, request_uri)},
	    {"Call-ID:     ", offsetof(struct mail_call, call_id)},
	    {"Subject:     ", offsetof(struct mail_call, subject)},
	    {"Priority:    ", offsetof(struct mail_call, priority)},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		sip_str s = *(const sip_str *)((const char *)c + fields[i].off);
		if (clean(s, VALUE_MAX, v, sizeof(v)))
			sip_out_printf(&o, "%s%s\r\n", fields[i].label, v);
		if (i == 2)
			sip_out_printf(&o, "Time:        %s\r\n", date);
	}
	if (c->done && clean(sip_str_make(c->done, strlen(c->done)), VALUE_MAX, v, sizeof(v)))
		sip_out_printf(&o, "Script:      %s\r\n", v);
	if (u->has_body && u->body[0]) {
		sip_out_put(&o, "\r\n", 2);
		for (const char *p = u->body; *p;) {
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p) : strlen(p);
			sip_out_put(&o, p, n);
			sip_out_put(&o, "\r\n", 2);
			p += n + (nl != NULL);
		}
	}
	if (o.len > o.cap)
		return -1;
	out[o.len] = 0;
	return (int)o.len;
}
