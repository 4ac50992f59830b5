/*
 * The CPL interpreter: walks a compiled script (cpl_internal.h) for one
 * call. Switches read the call; location nodes edit the location set;
 * lookups and proxy attempts ask the caller's callbacks; redirect, reject
 * and the end of the script (RFC 3880 section 10) give the verdict. Every
 * node executed counts against the script's step limit, so a run ends even
 * if the compiler had a bug that let a cycle through.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feature/cpl_internal.h"

struct run {
	const struct cpl_script *s;
	const struct cpl_call *call;
	const struct cpl_outcome_src *src;
	struct cpl_result *out;
	bool modified, proxied;
};

static const char priorities[][12] = {"non-urgent", "normal", "urgent", "emergency"};

/* ---- helpers --------------------------------------------------------- */

static bool ci_eq(sip_str a, const char *b)
{
	size_t n = strlen(b);
	return a.len == n && (n == 0 || !strncasecmp(a.s, b, n));
}

static bool ci_contains(sip_str hay, const char *needle)
{
	size_t n = strlen(needle);
	if (n == 0)
		return true;
	for (size_t i = 0; i + n <= hay.len; i++)
		if (!strncasecmp(hay.s + i, needle, n))
			return true;
	return false;
}

/* Telephone digits only: "Punctuation and separator characters in
 * telephone numbers are discarded" (section 4.1), the leading + included,
 * so "+1-900-555-1212" has the prefix "1900". Letters A-D, * and # stay;
 * case folds. */
static size_t tel_digits(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		char ch = (char)toupper((unsigned char)s[i]);
		if (isdigit((unsigned char)ch) || (ch >= 'A' && ch <= 'D') || ch == '*' || ch == '#')
			out[o++] = ch;
		else if (ch == ';')
			break; /* tel URI parameters */
	}
	out[o] = 0;
	return o;
}

/* Host comparison (section 4.1): names case-insensitively as strings, IP
 * addresses numerically, never a name with an address. */
static int host_ip(const char *h, size_t len, unsigned char *buf)
{
	char tmp[64];
	if (len >= sizeof(tmp))
		return 0;
	if (len >= 2 && h[0] == '[' && h[len - 1] == ']') {
		h++;
		len -= 2;
	}
	memcpy(tmp, h, len);
	tmp[len] = 0;
	if (inet_pton(AF_INET, tmp, buf) == 1)
		return 4;
	if (inet_pton(AF_INET6, tmp, buf) == 1)
		return 16;
	return 0;
}

static bool host_is(sip_str host, const char *arg)
{
	unsigned char a[16], b[16];
	int la = host_ip(host.s, host.len, a), lb = host_ip(arg, strlen(arg), b);
	if (la || lb)
		return la == lb && !memcmp(a, b, (size_t)la);
	return ci_eq(host, arg);
}

static bool host_subdomain_of(sip_str host, const char *dom)
{
	unsigned char a[16];
	if (host_ip(host.s, host.len, a) || host_ip(dom, strlen(dom), a))
		return host_is(host, dom);
	while (host.len && host.s[0] == '.') {
		host.s++;
		host.len--;
	}
	while (*dom == '.')
		dom++;
	size_t n = strlen(dom);
	if (host.len < n || strncasecmp(host.s + host.len - n, dom, n))
		return false;
	return host.len == n || host.s[host.len - n - 1] == '.';
}

/* ---- switches -------------------------------------------------------- */

static const struct cpl_address *address_of(const struct cpl_call *call, uint8_t field)
{
	switch (field) {
	case F_ORIGIN: return &call->origin;
	case F_DESTINATION: return &call->destination;
	default: return &call->original_destination;
	}
}

/* The subfield's value into buf (unescaped where the URI escapes), or
 * false when absent. */
static bool subfield_value(const struct cpl_address *a, uint8_t sf, char *buf, size_t cap,
			   sip_str *v)
{
	const struct sip_uri *u = a->uri;
	bool sip = u->scheme == SIP_URI_SIP || u->scheme == SIP_URI_SIPS;
	long n;
	switch (sf) {
	case SF_ADDRESS_TYPE:
		*v = u->scheme_name;
		return v->len > 0;
	case SF_USER:
	case SF_PASSWORD: {
		sip_str in = sf == SF_USER ? u->user : u->password;
		if (!(sip || (u->scheme == SIP_URI_TEL && sf == SF_USER)) || !in.len)
			return false;
		if ((n = sip_unescape(in, buf, cap - 1)) < 0)
			return false;
		*v = sip_str_make(buf, (size_t)n);
		return true;
	}
	case SF_HOST:
		*v = u->host;
		return sip && u->host.len > 0;
	case SF_PORT:
		if (!sip || !u->has_port)
			return false;
		n = snprintf(buf, cap, "%u", u->port);
		*v = sip_str_make(buf, (size_t)n);
		return true;
	case SF_TEL: {
		sip_str user_param;
		bool phone = u->scheme == SIP_URI_TEL ||
			     (sip && sip_uri_param(u, "user", &user_param) && ci_eq(user_param, "phone"));
		if (!phone || !u->user.len)
			return false;
		char raw[256];
		if ((n = sip_unescape(u->user, raw, sizeof(raw))) < 0)
			return false;
		*v = sip_str_make(buf, tel_digits(raw, (size_t)n, buf, cap));
		return v->len > 0;
	}
	case SF_DISPLAY:
		*v = a->display;
		return a->display.s != NULL;
	}
	*v = u->raw;
	return true;
}

static bool address_case(const struct cpl_address *a, uint8_t sf, const struct cpl_case *c,
			 const char *arg, sip_str v)
{
	if (sf == SF_NONE) {
		if (c->match != M_IS)
			return c->match == M_CONTAINS && ci_contains(v, arg);
		struct sip_uri u;
		struct sip_error e;
		if (sip_uri_parse(&u, arg, strlen(arg), &e) == 0)
			return sip_uri_equal(a->uri, &u);
		return ci_eq(v, arg);
	}
	switch (sf) {
	case SF_ADDRESS_TYPE: return c->match == M_IS && ci_eq(v, arg);
	case SF_USER:
	case SF_PASSWORD: return c->match == M_IS && v.len == strlen(arg) && !memcmp(v.s, arg, v.len);
	case SF_HOST:
		return c->match == M_IS ? host_is(v, arg) : host_subdomain_of(v, arg);
	case SF_PORT: {
		char *end;
		unsigned long p = strtoul(arg, &end, 10);
		return c->match == M_IS && !*end && *arg && p == strtoul(v.s, NULL, 10);
	}
	case SF_TEL: {
		char t[256];
		size_t n = tel_digits(arg, strlen(arg), t, sizeof(t));
		if (c->match == M_IS)
			return v.len == n && !memcmp(v.s, t, n);
		return c->match == M_SUBDOMAIN_OF && v.len >= n && !memcmp(v.s, t, n);
	}
	case SF_DISPLAY:
		return c->match == M_IS ? ci_eq(v, arg) : ci_contains(v, arg);
	}
	return false;
}

/* Whether any language-range of the call matches tag (RFC 3066 section
 * 2.5; "*" and q=0 ranges ignored, section 4.3). */
static bool language_matches(sip_str list, const char *tag)
{
	const char *p = list.s, *end = list.s + list.len;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		const char *semi = memchr(p, ';', (size_t)(e - p));
		const char *r = p, *re = semi ? semi : e;
		while (r < re && isspace((unsigned char)*r))
			r++;
		while (re > r && isspace((unsigned char)re[-1]))
			re--;
		bool zero = false;
		for (const char *q = semi; q && q < e; q++) {
			if ((*q == 'q' || *q == 'Q') && q + 1 < e) {
				const char *x = q + 1;
				while (x < e && isspace((unsigned char)*x))
					x++;
				if (x < e && *x == '=') {
					double qv = strtod(x + 1, NULL);
					zero = qv <= 0.0;
				}
				break;
			}
		}
		size_t rl = (size_t)(re - r), tl = strlen(tag);
		if (!zero && rl && !(rl == 1 && *r == '*') && rl <= tl && !strncasecmp(r, tag, rl) &&
		    (rl == tl || tag[rl] == '-'))
			return true;
		p = comma ? comma + 1 : end;
	}
	return false;
}

static int32_t run_switch(struct run *r, const struct cpl_node *n)
{
	const struct cpl_script *s = r->s;
	const struct cpl_call *call = r->call;
	char buf[256];
	sip_str v = SIP_STR_NULL;
	bool present = true;
	const struct cpl_address *addr = NULL;
	int level = 1;

	switch (n->op) {
	case OP_ADDRESS_SWITCH:
		addr = address_of(call, n->field);
		present = addr->uri && subfield_value(addr, n->subfield, buf, sizeof(buf), &v);
		break;
	case OP_STRING_SWITCH:
		v = n->field == F_SUBJECT	 ? call->subject
		    : n->field == F_ORGANIZATION ? call->organization
		    : n->field == F_USER_AGENT	 ? call->user_agent
						 : SIP_STR_NULL; /* display: never in SIP */
		present = v.s != NULL;
		break;
	case OP_LANGUAGE_SWITCH:
		v = call->accept_language;
		present = v.s != NULL;
		break;
	case OP_PRIORITY_SWITCH:
		v = call->priority.s ? call->priority : SIP_STR_LIT("normal");
		while (v.len && isspace((unsigned char)v.s[v.len - 1]))
			v.len--;
		level = 1; /* unknown values count as normal for less/greater */
		for (int i = 0; i < 4; i++)
			if (ci_eq(v, priorities[i]))
				level = i;
		break;
	}

	for (unsigned i = 0; i < n->ncases; i++) {
		const struct cpl_case *c = &s->cases[n->cases + i];
		const char *arg = cpl_str(s, c->str);
		bool take = false;
		switch (c->match) {
		case M_OTHERWISE: take = true; break;
		case M_NOT_PRESENT: take = !present; break;
		case M_IS:
		case M_CONTAINS:
		case M_SUBDOMAIN_OF:
			if (!present)
				break;
			if (n->op == OP_ADDRESS_SWITCH)
				take = address_case(addr, n->subfield, c, arg ? arg : "", v);
			else
				take = c->match == M_IS ? ci_eq(v, arg ? arg : "")
							: ci_contains(v, arg ? arg : "");
			break;
		case M_MATCHES: take = present && language_matches(v, arg ? arg : ""); break;
		case M_LESS: take = level < c->prio; break;
		case M_GREATER: take = level > c->prio; break;
		case M_EQUAL: take = ci_eq(v, arg ? arg : ""); break;
		case M_TIME: take = cpl_time_match(&s->times[c->time], cpl_str(s, n->s1), call->now); break;
		}
		if (take)
			return c->next;
	}
	return CPL_NONE;
}

/* ---- the location set -------------------------------------------------- */

/* Adds url keeping the set ordered by priority, highest first (stable).
 * A URL already in the set is not added twice. */
static int loc_add(struct run *r, const char *url, double prio)
{
	struct cpl_result *o = r->out;
	for (unsigned i = 0; i < o->n_locations; i++)
		if (!strcmp(o->locations[i].url, url))
			return 0;
	if (o->n_locations >= r->s->max_locations) {
		snprintf(o->error, sizeof(o->error), "the location set is larger than %u",
			 r->s->max_locations);
		return -1;
	}
	unsigned at = o->n_locations;
	while (at > 0 && o->locations[at - 1].priority < prio)
		at--;
	memmove(&o->locations[at + 1], &o->locations[at],
		(o->n_locations - at) * sizeof(o->locations[0]));
	o->locations[at] = (struct cpl_location){url, prio};
	o->n_locations++;
	return 0;
}

static void loc_remove_at(struct cpl_result *o, unsigned i)
{
	memmove(&o->locations[i], &o->locations[i + 1],
		(o->n_locations - i - 1) * sizeof(o->locations[0]));
	o->n_locations--;
}

static bool same_location(const char *a, const char *b)
{
	struct sip_uri ua, ub;
	struct sip_error e;
	if (!sip_uri_parse(&ua, a, strlen(a), &e) && !sip_uri_parse(&ub, b, strlen(b), &e))
		return sip_uri_equal(&ua, &ub);
	return !strcmp(a, b);
}

static bool proxyable(const char *url)
{
	return !strncasecmp(url, "sip:", 4) || !strncasecmp(url, "sips:", 5) ||
	       !strncasecmp(url, "tel:", 4);
}

static void record(struct run *r, struct cpl_action a)
{
	a.outcomes = r->out->n_proxied;
	if (r->out->n_actions < CPL_MAX_ACTIONS)
		r->out->actions[r->out->n_actions++] = a;
}

/* ---- nodes ------------------------------------------------------------ */

static int32_t run_proxy(struct run *r, const struct cpl_node *n, bool *done)
{
	struct cpl_result *o = r->out;
	struct cpl_proxy_request req = {
		.locations = o->locations,
		.n = o->n_locations,
		.timeout = n->num,
		.timeout_given = n->timeout_given,
		.recurse = n->recurse,
		.ordering = (enum cpl_ordering)n->ordering,
	};
	const char *const *urls = NULL;
	unsigned nurls = 0;
	enum cpl_proxy_status st = CPL_PROXY_FAILURE;
	/* An empty set is a failure with nothing sent: no response to return
	 * later, so it does not count as proxied (section 10). */
	if (o->n_locations) {
		if (r->src && r->src->proxy)
			st = r->src->proxy(r->src->ctx, &req, &urls, &nurls);
		if (st == CPL_PROXY_PENDING) {
			o->verdict = CPL_PENDING;
			o->proxy = req;
			*done = true;
			return CPL_NONE;
		}
		if (st > CPL_PROXY_FAILURE)
			st = CPL_PROXY_FAILURE;
		record(r, (struct cpl_action){.kind = CPL_ACT_PROXY, .proxy_status = st});
		o->n_proxied++;
		r->proxied = true;
	}
	if (st == CPL_PROXY_ANSWERED) {
		o->verdict = CPL_ANSWERED;
		o->proxy = req;
		o->proxy.locations = NULL;
		*done = true;
		return CPL_NONE;
	}
	/* Used locations leave the set (section 6.1). */
	if (n->ordering == CPL_FIRST_ONLY) {
		for (unsigned i = 0; i < o->n_locations; i++)
			if (proxyable(o->locations[i].url)) {
				loc_remove_at(o, i);
				break;
			}
	} else {
		for (unsigned i = o->n_locations; i-- > 0;)
			if (proxyable(o->locations[i].url))
				loc_remove_at(o, i);
	}
	int out = st == CPL_PROXY_BUSY	      ? OUT_BUSY
		  : st == CPL_PROXY_NOANSWER  ? OUT_NOANSWER
		  : st == CPL_PROXY_REDIRECTION ? OUT_REDIRECTION
					      : OUT_FAILURE;
	if (st == CPL_PROXY_REDIRECTION)
		for (unsigned i = 0; i < nurls; i++)
			if (urls[i] && loc_add(r, urls[i], 1.0))
				break; /* full: keep what fits */
	o->error[0] = 0;
	if (n->present & (1u << out))
		return n->out[out];
	return n->out[OUT_DEFAULT];
}

static int32_t run_lookup(struct run *r, const struct cpl_node *n, int *err)
{
	const char *const *urls = NULL;
	unsigned nurls = 0;
	enum cpl_lookup_status st = CPL_LOOKUP_FAILURE;
	if (r->src && r->src->lookup)
		st = r->src->lookup(r->src->ctx, cpl_str(r->s, n->s1), n->num, &urls, &nurls);
	if (st == CPL_LOOKUP_SUCCESS) {
		if (n->clear)
			r->out->n_locations = 0;
		r->modified = true;
		for (unsigned i = 0; i < nurls; i++)
			if (urls[i] && loc_add(r, urls[i], 1.0)) {
				*err = -1;
				return CPL_NONE;
			}
		return n->out[OUT_SUCCESS];
	}
	return n->out[st == CPL_LOOKUP_NOTFOUND ? OUT_NOTFOUND : OUT_LFAILURE];
}

int cpl_run(const struct cpl_script *s, const struct cpl_call *call,
	    const struct cpl_outcome_src *src, struct cpl_result *out)
{
	memset(out, 0, sizeof(*out));
	struct run r = {.s = s, .call = call, .src = src, .out = out};
	for (unsigned i = 0; i < call->n_initial_locations; i++)
		if (call->initial_locations[i] && loc_add(&r, call->initial_locations[i], 1.0))
			goto error;
	int32_t pc = call->outgoing ? s->outgoing : s->incoming;
	bool done = false;
	while (pc != CPL_NONE && !done) {
		if ((unsigned)pc >= s->nnodes) {
			snprintf(out->error, sizeof(out->error), "bad node index %d", pc);
			goto error;
		}
		if (++out->steps > s->max_steps) {
			snprintf(out->error, sizeof(out->error), "more than %u steps", s->max_steps);
			goto error;
		}
		const struct cpl_node *n = &s->nodes[pc];
		int err = 0;
		switch (n->op) {
		case OP_ADDRESS_SWITCH:
		case OP_STRING_SWITCH:
		case OP_LANGUAGE_SWITCH:
		case OP_PRIORITY_SWITCH:
		case OP_TIME_SWITCH:
			pc = run_switch(&r, n);
			break;
		case OP_LOCATION:
			if (n->clear)
				out->n_locations = 0;
			r.modified = true;
			if (loc_add(&r, cpl_str(s, n->s1), n->num / 1000.0))
				goto error;
			pc = n->out[OUT_NEXT];
			break;
		case OP_LOOKUP:
			pc = run_lookup(&r, n, &err);
			if (err)
				goto error;
			break;
		case OP_REMOVE_LOCATION: {
			const char *loc = cpl_str(s, n->s1);
			r.modified = true;
			for (unsigned i = out->n_locations; i-- > 0;)
				if (!loc || same_location(out->locations[i].url, loc))
					loc_remove_at(out, i);
			pc = n->out[OUT_NEXT];
			break;
		}
		case OP_PROXY:
			pc = run_proxy(&r, n, &done);
			break;
		case OP_REDIRECT:
			out->verdict = CPL_REDIRECT;
			out->permanent = n->permanent;
			return 0;
		case OP_REJECT:
			out->verdict = CPL_REJECT;
			out->status = n->num;
			out->reason = cpl_str(s, n->s2);
			return 0;
		case OP_MAIL:
			record(&r, (struct cpl_action){.kind = CPL_ACT_MAIL, .a = cpl_str(s, n->s1)});
			pc = n->out[OUT_NEXT];
			break;
		case OP_LOG:
			record(&r, (struct cpl_action){.kind = CPL_ACT_LOG, .a = cpl_str(s, n->s1),
						       .b = cpl_str(s, n->s2)});
			pc = n->out[OUT_NEXT];
			break;
		default:
			snprintf(out->error, sizeof(out->error), "bad node op %u", n->op);
			goto error;
		}
	}
	if (done)
		return 0;
	/* The script ended without a signalling decision: section 10. */
	if (r.proxied) {
		out->verdict = CPL_BEST_RESPONSE;
	} else if (r.modified && out->n_locations == 0) {
		out->verdict = CPL_REJECT;
		out->status = 404;
	} else if (r.modified || out->n_locations) {
		out->verdict = CPL_PROXY_SET;
	} else {
		out->verdict = CPL_DEFAULT;
	}
	return 0;
error:
	out->verdict = CPL_ERROR;
	return -1;
}

enum cpl_proxy_status cpl_replay_proxy(void *ctx, const struct cpl_proxy_request *req,
				       const char *const **urls, unsigned *n)
{
	struct cpl_replay *rp = ctx;
	(void)req;
	if (rp->next >= rp->n)
		return CPL_PROXY_PENDING;
	const struct cpl_outcome *o = &rp->outcomes[rp->next++];
	*urls = o->urls;
	*n = o->n;
	return o->status == CPL_PROXY_PENDING ? CPL_PROXY_FAILURE : o->status;
}

/* ---- a gate, then the hop's script ---------------------------------------- */

struct gated_src {
	struct cpl_replay rp;
	const struct cpl_outcome_src *lookups;
	const char *self;          /* the gate's continuation; NULL: none */
	bool stopped;              /* the gate reached its continuation */
};

static enum cpl_lookup_status gated_lookup(void *ctx, const char *source, unsigned timeout,
					   const char *const **urls, unsigned *n)
{
	const struct cpl_outcome_src *l = ((struct gated_src *)ctx)->lookups;
	if (!l || !l->lookup)
		return CPL_LOOKUP_FAILURE;
	return l->lookup(l->ctx, source, timeout, urls, n);
}

static enum cpl_proxy_status gated_proxy(void *ctx, const struct cpl_proxy_request *req,
					 const char *const **urls, unsigned *n)
{
	struct gated_src *g = ctx;
	if (g->self && req->n) {
		bool only_self = true;
		for (unsigned i = 0; i < req->n && only_self; i++)
			only_self = same_location(req->locations[i].url, g->self);
		if (only_self) {
			g->stopped = true;
			return CPL_PROXY_PENDING;
		}
	}
	return cpl_replay_proxy(&g->rp, req, urls, n);
}

/* One run of s over outcomes[0..n); self non-NULL: stop at an attempt to
 * self alone (gs->stopped). */
static int gated_one(const struct cpl_script *s, const struct cpl_call *call, struct gated_src *gs,
		     const struct cpl_outcome *outcomes, unsigned n, struct cpl_result *out)
{
	gs->rp = (struct cpl_replay){.outcomes = outcomes, .n = n};
	gs->stopped = false;
	struct cpl_outcome_src src = {.ctx = gs, .lookup = gated_lookup, .proxy = gated_proxy};
	return cpl_run(s, call, &src, out);
}

int cpl_run_gated(const struct cpl_script *gate, const struct cpl_script *main_script,
		  const char *self, const struct cpl_call *call, const struct cpl_outcome_src *lookups,
		  const struct cpl_outcome *outcomes, unsigned n, struct cpl_result *out,
		  bool *gate_decided)
{
	struct gated_src gs = {.lookups = lookups};
	bool dummy;
	if (!gate_decided)
		gate_decided = &dummy;
	*gate_decided = false;
	if (!gate)
		return gated_one(main_script, call, &gs, outcomes, n, out);

	struct cpl_call bare = *call;
	bare.initial_locations = NULL;
	bare.n_initial_locations = 0;
	gs.self = self;
	int rc = gated_one(gate, &bare, &gs, outcomes, n, out);
	bool stopped = gs.stopped && out->verdict == CPL_PENDING;
	if (!stopped && out->verdict != CPL_DEFAULT) {
		*gate_decided = true;
		return rc;
	}
	/* the gate lets the call go on: the subscriber's script, over the
	 * outcomes after the gate's */
	unsigned used = gs.rp.next;
	gs.self = NULL;
	rc = gated_one(main_script, call, &gs, outcomes + used, n - used, out);
	for (unsigned i = 0; i < out->n_actions; i++)
		out->actions[i].outcomes += used;
	if (!stopped || out->verdict != CPL_DEFAULT)
		return rc;
	/* the script leaves the call to default behaviour: the gate's
	 * continuation, with the gate's outputs for its outcome. What the
	 * script did on the way (a log, a mail: no attempt, or the verdict
	 * would not be CPL_DEFAULT) still happened: it goes in before the
	 * continuation's attempt. */
	struct cpl_action done[CPL_MAX_ACTIONS];
	unsigned ndone = out->n_actions;
	memcpy(done, out->actions, ndone * sizeof(done[0]));
	*gate_decided = true;
	rc = gated_one(gate, &bare, &gs, outcomes, n, out);
	unsigned at = 0;
	while (at < out->n_actions && out->actions[at].outcomes <= used &&
	       !(out->actions[at].kind == CPL_ACT_PROXY && out->actions[at].outcomes == used))
		at++;
	if (ndone > CPL_MAX_ACTIONS - at)
		ndone = CPL_MAX_ACTIONS - at;
	unsigned tail = out->n_actions - at;
	if (tail > CPL_MAX_ACTIONS - at - ndone)
		tail = CPL_MAX_ACTIONS - at - ndone;
	memmove(out->actions + at + ndone, out->actions + at, tail * sizeof(done[0]));
	memcpy(out->actions + at, done, ndone * sizeof(done[0]));
	out->n_actions = at + ndone + tail;
	return rc;
}
