#include "registrar.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "sip/build.h"

/* Longest header line we build: a Contact with the longest URI and
 * instance, or the Path echo. */
#define LINE_MAX_LEN (LOCATION_MAX_PATH + 512)

void registrar_config_default(struct registrar_config *c)
{
	c->min_expires = 60;
	c->max_expires = 3600;
	c->default_expires = 3600;
	c->max_contacts = 10;
}

/* ---- output: whole lines or nothing ---------------------------------------- */

struct lines {
	char *p;
	size_t cap, len, needed;
	bool full;   /* a line did not fit: later ones are left out too, so that
	                what is left out is always the tail */
};

static void lines_init(struct lines *l, char *p, size_t cap)
{
	*l = (struct lines){.p = p, .cap = cap};
	if (cap)
		p[0] = 0;
}

static void lines_add(struct lines *l, const struct sip_out *o)
{
	l->needed += o->len;
	if (l->full || o->len > o->cap || l->len + o->len + 1 > l->cap) {
		l->full = true;
		return;
	}
	memcpy(l->p + l->len, o->p, o->len);
	l->len += o->len;
	l->p[l->len] = 0;
}

const char *registrar_format_q(uint16_t q, char buf[8])
{
	if (q >= 1000)
		return "1";
	int n = snprintf(buf, 8, "0.%03u", (unsigned)q);
	while (n > 3 && buf[n - 1] == '0')
		buf[--n] = 0;
	if (n == 3 && buf[2] == '0')
		buf[1] = 0; /* "0.0" reads "0" */
	return buf;
}

/* q = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 3261 25.1) */
static int parse_q(sip_str v, uint16_t *out)
{
	if (!v.len || (v.s[0] != '0' && v.s[0] != '1'))
		return -1;
	unsigned q = (unsigned)(v.s[0] - '0') * 1000, scale = 100;
	if (v.len > 1 && (v.s[1] != '.' || v.len > 5))
		return -1;
	for (size_t i = 2; i < v.len; i++, scale /= 10) {
		if (v.s[i] < '0' || v.s[i] > '9')
			return -1;
		q += (unsigned)(v.s[i] - '0') * scale;
	}
	if (q > 1000)
		return -1;
	*out = (uint16_t)q;
	return 0;
}

/* RFC 1123 date in GMT, locale-free (RFC 3261 20.17). */
static void put_date(struct sip_out *o, int64_t now)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)now;
	struct tm tm;
	gmtime_r(&t, &tm);
	sip_out_printf(o, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday],
		       tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
		       tm.tm_sec);
}

static bool has_option(struct sip_msg *m, enum sip_hdr_type type, const char *tag)
{
	for (struct sip_hdr *h = m->first[type]; h; h = h->next_same) {
		if (sip_hdr_parse(m, h, NULL) < 0)
			continue;
		for (struct sip_list_item *it = h->v.list; it; it = it->next)
			if (sip_str_caseeq_lit(it->value, tag))
				return true;
	}
	return false;
}

static sip_str trim(sip_str s)
{
	while (s.len && (s.s[0] == ' ' || s.s[0] == '\t'))
		s.s++, s.len--;
	while (s.len && (s.s[s.len - 1] == ' ' || s.s[s.len - 1] == '\t'))
		s.len--;
	return s;
}

/* The request's Path values in order, joined by ','. -1 when one does not
 * parse, -2 when they are longer than we store. */
static int collect_path(struct sip_msg *m, char *buf, size_t cap, sip_str *out)
{
	size_t n = 0;
	for (struct sip_hdr *h = m->first[SIP_HDR_PATH]; h; h = h->next_same) {
		if (sip_hdr_parse(m, h, NULL) < 0)
			return -1;
		for (struct sip_addr *a = h->v.addr; a; a = a->next) {
			sip_str t = trim(a->text);
			if (n + t.len + 1 > cap)
				return -2;
			if (n)
				buf[n++] = ',';
			memcpy(buf + n, t.s, t.len);
			n += t.len;
		}
	}
	*out = sip_str_make(buf, n);
	return 0;
}

/* ---- the 200 ------------------------------------------------------------------ */

static void put_contact(struct sip_out *o, const struct binding *b, int64_t now)
{
	char qb[8];
	sip_out_put(o, "Contact: <", 10);
	sip_out_str(o, binding_str(b, BINDING_CONTACT));
	sip_out_printf(o, ">;expires=%lld", (long long)(b->expires_at - now));
	if (b->q != 1000)
		sip_out_printf(o, ";q=%s", registrar_format_q(b->q, qb));
	if (b->len[BINDING_INSTANCE]) {
		sip_out_put(o, ";+sip.instance=\"", 16);
		sip_out_str(o, binding_str(b, BINDING_INSTANCE));
		sip_out_put(o, "\"", 1);
		if (b->reg_id)
			sip_out_printf(o, ";reg-id=%u", b->reg_id);
	}
	sip_out_put(o, "\r\n", 2);
}

static size_t reply_lines(const struct location *loc, int64_t id, struct sip_msg *req,
			  bool flows, char *extra, size_t cap, size_t *len)
{
	char line[LINE_MAX_LEN];
	struct lines l;
	struct sip_out o;
	int64_t now = location_now(loc);
	lines_init(&l, extra, cap);

	/* RFC 3261 10.3 step 8: the response SHOULD include a Date */
	o = (struct sip_out){line, sizeof(line), 0};
	put_date(&o, now);
	lines_add(&l, &o);

	/* RFC 3327 5.3: the Path the registrar stored goes back to a UA that
	 * said it supports path, so that it learns its service route */
	char pbuf[LOCATION_MAX_PATH + 1];
	sip_str path;
	if (req->first[SIP_HDR_PATH] && has_option(req, SIP_HDR_SUPPORTED, "path") &&
	    collect_path(req, pbuf, sizeof(pbuf), &path) == 0 && path.len) {
		o = (struct sip_out){line, sizeof(line), 0};
		sip_out_put(&o, "Path: ", 6);
		sip_out_str(&o, path);
		sip_out_put(&o, "\r\n", 2);
		lines_add(&l, &o);
	}

	/* RFC 5626 6: a registrar that kept a flow says so in Require */
	if (flows) {
		o = (struct sip_out){line, sizeof(line), 0};
		sip_out_put(&o, "Require: outbound\r\n", 19);
		lines_add(&l, &o);
	}

	for (const struct binding *b = location_lookup(loc, id); b; b = b->next) {
		if (b->expires_at <= now)
			continue; /* due, not yet swept */
		o = (struct sip_out){line, sizeof(line), 0};
		put_contact(&o, b, now);
		lines_add(&l, &o);
	}
	*len = l.len;
	return l.needed;
}

static bool request_has_flow(struct sip_msg *req)
{
	for (struct sip_hdr *h = req->first[SIP_HDR_CONTACT]; h; h = h->next_same) {
		if (h->state != 1)
			continue;
		for (struct sip_addr *a = h->v.addr; a; a = a->next)
			if (sip_param_find(a->params, "+sip.instance") &&
			    sip_param_find(a->params, "reg-id"))
				return true;
	}
	return false;
}

size_t registrar_reply_lines(const struct location *loc, int64_t id, struct sip_msg *req,
			     char *extra, size_t cap, size_t *len)
{
	return reply_lines(loc, id, req,
			   request_has_flow(req) && has_option(req, SIP_HDR_SUPPORTED, "outbound"),
			   extra, cap, len);
}

/* ---- REGISTER ------------------------------------------------------------------- */

/* What the request asks for one Contact value. */
struct plan {
	struct sip_addr *ad;
	const struct binding *old; /* the binding it matches, or NULL */
	uint32_t expires;          /* granted; 0 removes */
	uint16_t q;
	sip_str instance;
	uint32_t reg_id;           /* with instance: an RFC 5626 flow */
	bool skip;                 /* a later value of the request has the same key */
	struct binding *b;
};

static unsigned finish(struct registrar_result *out, unsigned status, const char *reason,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static unsigned finish(struct registrar_result *out, unsigned status, const char *reason,
		       const char *fmt, ...)
{
	out->status = status;
	out->reason = reason;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(out->detail, sizeof(out->detail), fmt, ap);
		va_end(ap);
	}
	return status;
}

/* Does stored binding b have the key of request value p? Flows by
 * (instance, reg-id) (RFC 5626 6), other bindings by URI comparison
 * (RFC 3261 10.3 step 7, 19.1.4). */
static bool matches(const struct binding *b, const struct plan *p)
{
	if (p->reg_id || b->reg_id)
		return p->reg_id == b->reg_id &&
		       sip_str_caseeq(binding_str(b, BINDING_INSTANCE), p->instance);
	struct sip_uri u;
	sip_str c = binding_str(b, BINDING_CONTACT);
	if (sip_uri_parse(&u, c.s, c.len, NULL) < 0)
		return sip_str_eq(c, p->ad->uri.raw);
	return sip_uri_equal(&u, &p->ad->uri);
}

static bool same_key(const struct plan *a, const struct plan *b)
{
	if (a->reg_id || b->reg_id)
		return a->reg_id == b->reg_id && sip_str_caseeq(a->instance, b->instance);
	return sip_uri_equal(&a->ad->uri, &b->ad->uri);
}

/* URI comparison is not transitive (parameters need only match where both
 * have them), so two values of one request may match the same binding:
 * the first takes it. */
static bool claimed(const struct plan *plan, size_t i, const struct binding *b)
{
	for (size_t j = 0; j < i; j++)
		if (!plan[j].skip && plan[j].old == b)
			return true;
	return false;
}

/* A URI the database takes: no spaces or control characters. */
static bool storable_uri(sip_str u)
{
	if (!u.len || u.len > LOCATION_MAX_CONTACT)
		return false;
	for (size_t i = 0; i < u.len; i++)
		if ((unsigned char)u.s[i] <= 0x20 || u.s[i] == 0x7f)
			return false;
	return true;
}

/* Checks one Contact value and fills its plan; 0, or a status. */
static unsigned plan_contact(struct plan *p, const struct registrar_config *cfg,
			     bool have_hexp, uint32_t hexp, struct registrar_result *out)
{
	struct sip_addr *ad = p->ad;
	if (!storable_uri(ad->uri.raw))
		return finish(out, 400, "Bad Contact", "contact URI empty, too long or with spaces");

	/* RFC 3261 10.3 step 7: the expires param, else Expires, else our
	 * default; a malformed value reads as the default (20.19) */
	uint32_t e = have_hexp ? hexp : cfg->default_expires;
	const struct sip_param *pe = sip_param_find(ad->params, "expires");
	uint32_t v;
	if (pe)
		e = sip_parse_uint_value(pe->value, UINT32_MAX, true, "expires", &v, NULL) == 0
			    ? v
			    : cfg->default_expires;
	/* 423 only for a non-zero interval under both our minimum and an hour
	 * (step 7's "if and only if") */
	if (e && e < cfg->min_expires && e < 3600)
		return finish(out, 423, NULL, "expires %u below %u", e, cfg->min_expires);
	if (cfg->max_expires && e > cfg->max_expires)
		e = cfg->max_expires;
	p->expires = e;

	p->q = LOCATION_Q_DEFAULT;
	const struct sip_param *pq = sip_param_find(ad->params, "q");
	if (pq && parse_q(pq->value, &p->q) < 0)
		return finish(out, 400, "Invalid q Value", "q=%.*s", (int)pq->value.len,
			      pq->value.s ? pq->value.s : "");

	const struct sip_param *pi = sip_param_find(ad->params, "+sip.instance");
	const struct sip_param *pr = sip_param_find(ad->params, "reg-id");
	if (pi) {
		p->instance = pi->value;
		if (!p->instance.len || p->instance.len > LOCATION_MAX_TEXT)
			return finish(out, 400, "Bad +sip.instance", "+sip.instance empty or too long");
	}
	/* RFC 5626 6: reg-id without +sip.instance is ignored */
	if (pr && pi) {
		if (sip_parse_uint_value(pr->value, LOCATION_MAX_CSEQ, false, "reg-id", &v, NULL) < 0 ||
		    v == 0)
			return finish(out, 400, "Bad reg-id", "reg-id=%.*s", (int)pr->value.len,
				      pr->value.s ? pr->value.s : "");
		p->reg_id = v;
	}
	return 0;
}

/* Contact: * (RFC 3261 10.3 step 6): only alone, only with Expires: 0;
 * removes every binding unless one of them is newer than the request. */
static unsigned remove_all(struct location *loc, int64_t id, sip_str call_id, uint32_t cseq,
			   struct registrar_result *out)
{
	for (const struct binding *b = location_lookup(loc, id); b; b = b->next)
		if (sip_str_eq(binding_str(b, BINDING_CALL_ID), call_id) && cseq <= b->cseq)
			return finish(out, 500, "Out of Order Request",
				      "CSeq %u not above %u of Call-ID %.*s", cseq, b->cseq,
				      (int)call_id.len, call_id.s);
	out->changes = (unsigned)location_count(loc, id);
	location_remove_all(loc, id);
	return finish(out, 200, NULL, NULL);
}

static unsigned process(struct location *loc, const struct registrar_config *cfg, int64_t id,
			struct sip_msg *req, sip_str received, struct registrar_result *out,
			struct lines *err_lines, bool *flows)
{
	char line[LINE_MAX_LEN];
	struct sip_out o = {line, sizeof(line), 0};

	/* step 2: Require as any UAS (8.2.2.3): we know path and outbound */
	bool unsupported = false;
	for (struct sip_hdr *h = req->first[SIP_HDR_REQUIRE]; h; h = h->next_same) {
		if (sip_hdr_parse(req, h, NULL) < 0)
			return finish(out, 400, "Bad Require", "Require does not parse");
		for (struct sip_list_item *it = h->v.list; it; it = it->next) {
			if (sip_str_caseeq_lit(it->value, "path") ||
			    sip_str_caseeq_lit(it->value, "outbound"))
				continue;
			sip_out_put(&o, unsupported ? ", " : "Unsupported: ",
				    unsupported ? 2 : 13);
			sip_out_str(&o, it->value);
			unsupported = true;
		}
	}
	if (unsupported) {
		sip_out_put(&o, "\r\n", 2);
		lines_add(err_lines, &o);
		return finish(out, 420, NULL, "unsupported extension required");
	}

	const struct sip_cseq *cs = sip_msg_cseq(req, NULL);
	sip_str call_id = sip_msg_call_id(req);
	if (!cs || cs->seq > LOCATION_MAX_CSEQ)
		return finish(out, 400, "Bad CSeq", "CSeq missing or not below 2^31 (8.1.1.5)");
	if (!call_id.len || call_id.len > LOCATION_MAX_CALL_ID)
		return finish(out, 400, "Bad Call-ID", "Call-ID empty or longer than %d",
			      LOCATION_MAX_CALL_ID);

	bool have_hexp = false;
	uint32_t hexp = 0;
	struct sip_hdr *he = req->first[SIP_HDR_EXPIRES];
	if (he && sip_hdr_parse(req, he, NULL) == 0) {
		have_hexp = true;
		hexp = he->v.uint;
	}

	struct plan plan[REGISTRAR_MAX_REQUEST_CONTACTS];
	size_t n = 0;
	bool star = false;
	for (struct sip_hdr *h = req->first[SIP_HDR_CONTACT]; h; h = h->next_same) {
		if (sip_hdr_parse(req, h, NULL) < 0)
			return finish(out, 400, "Bad Contact", "Contact does not parse");
		for (struct sip_addr *a = h->v.addr; a; a = a->next) {
			if (a->star) {
				star = true;
				continue;
			}
			if (n == REGISTRAR_MAX_REQUEST_CONTACTS)
				return finish(out, 403, "Too Many Contacts",
					      "more than %d Contact values",
					      REGISTRAR_MAX_REQUEST_CONTACTS);
			plan[n++] = (struct plan){.ad = a};
		}
	}
	if (star) {
		if (n)
			return finish(out, 400, "Invalid Contact *", "* with other contacts");
		if (!have_hexp || hexp != 0)
			return finish(out, 400, "Invalid Contact *", "* without Expires: 0");
		return remove_all(loc, id, call_id, cs->seq, out);
	}
	if (!n)
		return finish(out, 200, NULL, NULL); /* a fetch */

	char pbuf[LOCATION_MAX_PATH + 1];
	sip_str path;
	int pr = collect_path(req, pbuf, sizeof(pbuf), &path);
	if (pr < 0)
		return finish(out, 400, "Bad Path", pr == -1 ? "Path does not parse" : "Path too long");

	for (size_t i = 0; i < n; i++) {
		unsigned st = plan_contact(&plan[i], cfg, have_hexp, hexp, out);
		if (st == 423) {
			o = (struct sip_out){line, sizeof(line), 0};
			sip_out_printf(&o, "Min-Expires: %u\r\n", cfg->min_expires);
			lines_add(err_lines, &o);
		}
		if (st)
			return st;
		/* the same key twice in one request: the last value wins */
		for (size_t j = 0; j < i; j++)
			if (!plan[j].skip && same_key(&plan[j], &plan[i]))
				plan[j].skip = true;
		*flows |= plan[i].reg_id != 0;
	}

	/* step 7: match the bindings; a request that is not newer than the
	 * binding it updates (same Call-ID, CSeq not higher) fails whole. The
	 * RFC names no status; 500 is what 12.2.2 prescribes for an
	 * out-of-order in-dialog request, and what step 7 gives for a failed
	 * commit. No Retry-After: sending it again cannot succeed. */
	size_t bindings = location_count(loc, id), adds = 0;
	for (size_t i = 0; i < n; i++) {
		struct plan *p = &plan[i];
		if (p->skip)
			continue;
		for (const struct binding *b = location_lookup(loc, id); b && !p->old; b = b->next)
			if (matches(b, p) && !claimed(plan, i, b))
				p->old = b;
		if (p->old && sip_str_eq(binding_str(p->old, BINDING_CALL_ID), call_id) &&
		    cs->seq <= p->old->cseq)
			return finish(out, 500, "Out of Order Request",
				      "CSeq %u not above %u of Call-ID %.*s", cs->seq, p->old->cseq,
				      (int)call_id.len, call_id.s);
		if (!p->old && p->expires)
			adds++;
		else if (p->old && !p->expires)
			bindings--;
	}
	/* 403 rather than 503: the limit is policy, another registrar of the
	 * same database would say the same, and 503 would send the UA off to
	 * try one (RFC 3261 21.5.4). A request that adds nothing passes even
	 * over a lowered limit, so that phones can still refresh and leave. */
	if (cfg->max_contacts && adds && bindings + adds > cfg->max_contacts)
		return finish(out, 403, "Too Many Contacts", "%zu bindings, limit %u",
			      bindings + adds, cfg->max_contacts);

	/* Allocate everything first: from here on nothing can fail, so the
	 * request applies whole or not at all (step 7). */
	int64_t now = location_now(loc);
	sip_str ua = SIP_STR_NULL;
	if (req->first[SIP_HDR_USER_AGENT]) {
		ua = req->first[SIP_HDR_USER_AGENT]->value;
		if (ua.len > LOCATION_MAX_TEXT)
			ua.len = LOCATION_MAX_TEXT; /* for people only */
	}
	if (received.len > LOCATION_MAX_TEXT)
		received.len = 0;
	bool nomem = location_reserve(loc, adds) < 0;
	for (size_t i = 0; i < n && !nomem; i++) {
		struct plan *p = &plan[i];
		if (p->skip || !p->expires)
			continue;
		struct binding_info bi = {
			.contact = p->ad->uri.raw, .call_id = call_id, .path = path,
			.instance = p->instance, .received = received, .user_agent = ua,
			.cseq = cs->seq, .reg_id = p->reg_id, .q = p->q, .expires = p->expires,
			.expires_at = now + p->expires,
		};
		p->b = location_binding_new(&bi);
		nomem = !p->b;
	}
	if (nomem) {
		for (size_t i = 0; i < n; i++)
			location_binding_free(plan[i].b);
		return finish(out, 500, NULL, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		struct plan *p = &plan[i];
		if (p->skip)
			continue;
		if (p->b)
			location_put(loc, id, p->old, p->b);
		else if (p->old)
			location_remove(loc, id, p->old);
		else
			continue; /* removing what is not there */
		out->changes++;
	}
	return finish(out, 200, NULL, NULL);
}

unsigned registrar_register(struct location *loc, const struct registrar_config *cfg,
			    int64_t id, struct sip_msg *req, sip_str received, char *extra,
			    size_t cap, struct registrar_result *out)
{
	*out = (struct registrar_result){0};
	/* bindings already due must not answer for the AOR, nor be refreshed */
	location_expire(loc);
	struct lines l;
	lines_init(&l, extra, cap);
	bool flows = false;
	unsigned st = process(loc, cfg, id, req, received, out, &l, &flows);
	if (st == 200) {
		out->extra_needed = reply_lines(loc, id, req,
						flows && has_option(req, SIP_HDR_SUPPORTED, "outbound"),
						extra, cap, &out->extra_len);
	} else {
		out->extra_len = l.len;
		out->extra_needed = l.needed;
	}
	return st;
}

/* ---- 302 ------------------------------------------------------------------------ */

size_t registrar_contacts_302(const struct location *loc, int64_t id, registrar_target_fn target,
			      void *ctx, char *out, size_t cap, size_t *len, unsigned *count)
{
	char line[LINE_MAX_LEN], ubuf[LOCATION_MAX_CONTACT + 1], qb[8];
	struct lines l;
	int64_t now = location_now(loc);
	unsigned k = 0;
	lines_init(&l, out, cap);
	for (const struct binding *b = location_lookup(loc, id); b; b = b->next) {
		if (b->expires_at <= now)
			continue;
		sip_str uri = target ? target(ctx, b, ubuf, sizeof(ubuf))
				     : binding_str(b, BINDING_CONTACT);
		if (!uri.len)
			continue;
		/* q always: a forking marshal groups by it, and a missing q
		 * would not say 1 to everyone */
		struct sip_out o = {line, sizeof(line), 0};
		sip_out_put(&o, "Contact: <", 10);
		sip_out_str(&o, uri);
		sip_out_printf(&o, ">;q=%s\r\n", registrar_format_q(b->q, qb));
		lines_add(&l, &o);
		if (!l.full)
			k++;
	}
	if (len)
		*len = l.len;
	if (count)
		*count = k;
	return l.needed;
}
