/*
 * featured's calls on the proxy core (see featured.h).
 *
 * A call's script runs by replay (cpl.h): the run stops at the first
 * proxy attempt whose outcome is not known yet (CPL_PENDING); featured
 * makes that attempt through the core (a target per location, every one
 * sent to redirectd or, carrying a maddr, to that address; featured
 * recurses on redirectd's 302s), and when the attempt ends without a 2xx
 * the failed hook appends its outcome and the script runs again from the
 * start, with the call's time fixed at its start. A 2xx ends everything:
 * the core relays it.
 *
 * "Ringing the subscriber" (a registration lookup, a location that is the
 * call's own destination, or a script with nothing to say) means going on
 * to the next hop: the same Request-URI and vocal-hop value to redirectd.
 * Another location is a forward: a new Request-URI marked as retargeted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "feature/cpl_gen.h"
#include "feature/featured.h"
#include "feature/privacy.h"
#include "feature/target.h"
#include "log.h"
#include "sip/addr.h"
#include "sip/build.h"
#include "store.h"

#define MAX_OUTCOMES 16
#define MAX_FORWARDS 10

struct fcall {
	struct featured *f;
	struct sip_proxy_ctx *pc;  /* valid while it has our answer to wait for */
	bool answered;             /* a final response went upstream */
	unsigned refs;
	char *call_id;
	size_t call_id_len;
	int64_t sub_id;
	unsigned side;             /* FEATURE_SIDE_CALLING or _CALLED */
	struct feature_hop hop;
	struct feature_compiled *fc;
	time_t now;                /* the call's start: the script's clock */
	bool last_attempt;         /* no script output left to act on failure */
	char *cont;                /* the next hop's Request-URI (ours without maddr) */
	char *domain;              /* the subscriber's domain */
	char *aor;                 /* the subscriber, user@domain (mail) */
	char *from_uri, *from_display, *to_uri;
	struct cpl_outcome outcomes[MAX_OUTCOMES];
	unsigned n;
};

static sip_str call_id_of(const struct fcall *c)
{
	return sip_str_make(c->call_id, c->call_id_len);
}

static char *dup_str(sip_str s)
{
	char *p = malloc(s.len + 1);
	if (p) {
		memcpy(p, s.s, s.len);
		p[s.len] = 0;
	}
	return p;
}

static void call_release(struct fcall *c)
{
	if (!c || --c->refs)
		return;
	feature_compiled_release(c->f->cache, c->fc);
	for (unsigned i = 0; i < c->n; i++) {
		for (unsigned k = 0; k < c->outcomes[i].n; k++)
			free((char *)c->outcomes[i].urls[k]);
		free((void *)c->outcomes[i].urls);
	}
	free(c->call_id);
	free(c->cont);
	free(c->domain);
	free(c->aor);
	free(c->from_uri);
	free(c->from_display);
	free(c->to_uri);
	free(c);
}

/* ---- the script's view of the call ---------------------------------------- */

static sip_str hdr_value(struct sip_msg *m, enum sip_hdr_type t)
{
	struct sip_hdr *h = m ? m->first[t] : NULL;
	return h ? h->value : SIP_STR_NULL;
}

static enum cpl_lookup_status lookup(void *ctx, const char *source, unsigned timeout,
				     const char *const **urls, unsigned *n)
{
	struct fcall *c = ctx;
	(void)timeout;
	if (strcmp(source, "registration") != 0)
		return CPL_LOOKUP_FAILURE; /* no other location server */
	/* the subscriber's registrations are the next hop's business */
	static const char *one[1];
	one[0] = c->cont;
	*urls = one;
	*n = 1;
	return CPL_LOOKUP_SUCCESS;
}

/* Runs the script with the outcomes so far. */
static void run(struct fcall *c, struct cpl_result *res)
{
	struct sip_uri from, ruri, to;
	struct sip_msg *req = c->answered ? NULL : sip_proxy_request(c->pc);
	struct cpl_call call = {
		.outgoing = c->side == FEATURE_SIDE_CALLING,
		.now = c->now,
		.subject = hdr_value(req, SIP_HDR_SUBJECT),
		.organization = hdr_value(req, SIP_HDR_ORGANIZATION),
		.user_agent = hdr_value(req, SIP_HDR_USER_AGENT),
		.accept_language = hdr_value(req, SIP_HDR_ACCEPT_LANGUAGE),
		.priority = hdr_value(req, SIP_HDR_PRIORITY),
	};
	if (c->from_uri && sip_uri_parse(&from, c->from_uri, strlen(c->from_uri), NULL) == 0) {
		call.origin.uri = &from;
		if (c->from_display)
			call.origin.display = sip_str_make(c->from_display, strlen(c->from_display));
	}
	/* A number dialled as a SIP user part is a telephone number to the
	 * script too (the tel subfield: call blocking by prefix), whether or
	 * not the phone added user=phone. */
	char dest[1500];
	if (sip_uri_parse(&ruri, c->cont, strlen(c->cont), NULL) == 0) {
		if (cpl_gen_phone_destination(&ruri, dest, sizeof(dest)) &&
		    sip_uri_parse(&ruri, dest, strlen(dest), NULL) < 0)
			sip_uri_parse(&ruri, c->cont, strlen(c->cont), NULL);
		call.destination.uri = &ruri;
	}
	if (c->to_uri && sip_uri_parse(&to, c->to_uri, strlen(c->to_uri), NULL) == 0)
		call.original_destination.uri = &to;
	const char *initial[1] = {c->cont};
	if (call.outgoing) {
		call.initial_locations = initial;
		call.n_initial_locations = 1;
	}
	struct cpl_outcome_src src = {.ctx = c, .lookup = lookup};
	/* beside the subscriber's own script, the carrier-locked features run
	 * first; ringing the subscriber (c->cont) is where they let it go on */
	if (cpl_run_gated(c->fc->locked, c->fc->script, c->cont, &call, &src, c->outcomes, c->n, res,
			  NULL) < 0) {
		c->f->stats.run_errors++;
		log_call(LOG_WARNING, call_id_of(c), "subscriber %" PRId64 ": script stopped (%s): "
			 "going on as without it", c->sub_id, res->error);
	}
}

/* ---- acting on a verdict -------------------------------------------------- */

/* The URI a location becomes: the call's own destination (the next hop),
 * or a forward target signed for it. Returns its length or -1. */
static int location_uri(struct fcall *c, const char *url, char *uri, size_t cap)
{
	struct sip_uri ruri;
	if (sip_uri_parse(&ruri, c->cont, strlen(c->cont), NULL) == 0 && feature_target_is_self(url, &ruri)) {
		size_t n = strlen(c->cont);
		if (n >= cap)
			return -1;
		memcpy(uri, c->cont, n + 1);
		return (int)n;
	}
	if (c->hop.forwards + 1 > MAX_FORWARDS) {
		log_call(LOG_WARNING, call_id_of(c), "forward to %s refused: %u forwards already", url,
			 c->hop.forwards);
		return -1;
	}
	int n = feature_target_forward(url, sip_str_make(c->domain, strlen(c->domain)), c->f->key,
				       call_id_of(c), c->hop.forwards + 1, uri, cap);
	if (n < 0)
		log_call(LOG_WARNING, call_id_of(c), "location %s is no usable target", url);
	return n;
}

/* Adds the target for location url. */
static int add_location(struct fcall *c, const char *url, unsigned group)
{
	char uri[1400];
	int n = location_uri(c, url, uri, sizeof(uri));
	if (n < 0)
		return -1;
	if (strcmp(uri, c->cont) != 0)
		c->f->stats.forwarded++;
	log_call(LOG_DEBUG, call_id_of(c), "target %s (group %u)", uri, group);
	return sip_proxy_add_target(c->pc, uri, (size_t)n, group);
}

static bool proxyable(const char *url)
{
	return !strncasecmp(url, "sip:", 4) || !strncasecmp(url, "sips:", 5) ||
	       !strncasecmp(url, "tel:", 4);
}

/* Starts an attempt to the locations; false when none was usable. */
static bool attempt(struct fcall *c, const struct cpl_location *locs, unsigned n,
		    enum cpl_ordering ordering, unsigned timeout_s)
{
	unsigned added = 0;
	for (unsigned i = 0; i < n; i++) {
		if (!proxyable(locs[i].url))
			continue;
		if (add_location(c, locs[i].url, ordering == CPL_SEQUENTIAL ? added : 0) == 0)
			added++;
		if (ordering == CPL_FIRST_ONLY)
			break;
	}
	if (!added)
		return false;
	c->f->stats.attempts++;
	if (timeout_s)
		sip_proxy_set_timeout(c->pc, timeout_s * 1000u);
	sip_proxy_start(c->pc);
	return true;
}

/* Goes on to the next hop: the last attempt, whose outcome is the caller's. */
static void go_on(struct fcall *c)
{
	c->last_attempt = true;
	struct cpl_location self = {c->cont, 1.0};
	if (!attempt(c, &self, 1, CPL_PARALLEL, 0))
		sip_proxy_reply(c->pc, 500, "Next Hop Not Usable", NULL);
}

/* A redirect: the locations as Contacts, marked like forwards (so that
 * whoever follows them reaches redirectd as a retargeted call, whose
 * features then run, not the caller's again). */
static void redirect(struct fcall *c, const struct cpl_result *res)
{
	char extra[4096], uri[1400];
	struct sip_out o = {extra, sizeof(extra), 0};
	for (unsigned i = 0; i < res->n_locations; i++) {
		const char *url = res->locations[i].url;
		if (!proxyable(url) || location_uri(c, url, uri, sizeof(uri)) < 0)
			continue;
		sip_out_printf(&o, "Contact: <%s>\r\n", uri);
	}
	if (o.len >= sizeof(extra) || o.len == 0) {
		sip_proxy_reply(c->pc, 500, "Redirect Without Usable Locations", NULL);
		return;
	}
	c->f->stats.redirected++;
	sip_proxy_reply(c->pc, res->permanent ? 301 : 302, NULL, extra);
}

/* ---- mail -------------------------------------------------------------------- */

static const char *outcome_name(enum cpl_proxy_status st)
{
	switch (st) {
	case CPL_PROXY_ANSWERED: return "answered";
	case CPL_PROXY_BUSY: return "busy";
	case CPL_PROXY_NOANSWER: return "no answer";
	case CPL_PROXY_REDIRECTION: return "redirected";
	default: return "failed";
	}
}

/* The mail of res->actions[i] (RFC 3880 7.1), with what the script did
 * before it: the attempts and how they ended. */
static void mail(struct fcall *c, const struct cpl_result *res, unsigned i)
{
	struct featured *f = c->f;
	const char *url = res->actions[i].a ? res->actions[i].a : "";
	struct mail_url *u = malloc(sizeof(*u));
	char *msg = malloc(MAIL_MESSAGE_MAX);
	char err[160];
	if (!u || !msg) {
		log_call(LOG_WARNING, call_id_of(c), "cpl mail not sent: out of memory");
		goto out;
	}
	if (mail_url_parse(url, strlen(url), u, err, sizeof(err)) < 0) {
		f->stats.mail.refused++;
		log_call(LOG_WARNING, call_id_of(c), "subscriber %" PRId64 ": cpl mail not sent: %s",
			 c->sub_id, err);
		goto out;
	}
	if (!f->conf->mail_command[0]) {
		f->stats.mail.off++;
		log_call(LOG_INFO, call_id_of(c), "subscriber %" PRId64 ": cpl mail to %s not sent: "
			 "mail.command is empty", c->sub_id, u->rcpt[0].addr);
		goto out;
	}
	char done[200];
	struct sip_out d = {done, sizeof(done) - 1, 0};
	unsigned k = 0;
	for (unsigned j = 0; j < i; j++)
		if (res->actions[j].kind == CPL_ACT_PROXY) {
			k++;
			sip_out_printf(&d, "%sattempt %u %s", k > 1 ? ", " : "", k,
				       outcome_name(res->actions[j].proxy_status));
		}
	if (!k)
		sip_out_printf(&d, "no attempt yet");
	done[d.len < sizeof(done) ? d.len : sizeof(done) - 1] = 0;
	struct sip_msg *req = sip_proxy_request(c->pc);
	char ruri[600] = "";
	if (req)
		snprintf(ruri, sizeof(ruri), "%s:%.*s%s%.*s", req->ruri.scheme == SIP_URI_SIPS ? "sips" : "sip",
			 (int)req->ruri.user.len, req->ruri.user.s, req->ruri.user.len ? "@" : "",
			 (int)req->ruri.host.len, req->ruri.host.s);
	struct mail_call mc = {
		.from_display = c->from_display ? sip_str_make(c->from_display, strlen(c->from_display)) : SIP_STR_NULL,
		.from_uri = c->from_uri ? sip_str_make(c->from_uri, strlen(c->from_uri)) : SIP_STR_NULL,
		.to_uri = c->to_uri ? sip_str_make(c->to_uri, strlen(c->to_uri)) : SIP_STR_NULL,
		.request_uri = ruri[0] ? sip_str_make(ruri, strlen(ruri)) : SIP_STR_NULL,
		.call_id = call_id_of(c),
		.subject = hdr_value(req, SIP_HDR_SUBJECT),
		.priority = hdr_value(req, SIP_HDR_PRIORITY),
		.when = c->now,
		.subscriber = c->aor,
		.outgoing = c->side == FEATURE_SIDE_CALLING,
		.done = done,
	};
	char left[96];
	const char *domain = strchr(f->conf->mail_from, '@') + 1; /* a valid address */
	snprintf(left, sizeof(left), "%lld.%d.%llu.cpl", (long long)c->now, (int)getpid(),
		 (unsigned long long)++f->mail_seq);
	int n = mail_build(u, &mc, f->conf->mail_from, left, domain, msg, MAIL_MESSAGE_MAX);
	if (n < 0) {
		f->stats.mail.failed++;
		log_call(LOG_WARNING, call_id_of(c), "subscriber %" PRId64 ": cpl mail not sent: "
			 "the message does not fit", c->sub_id);
		goto out;
	}
	if (mailer_send(f->mailer, c->sub_id, call_id_of(c), msg, (size_t)n) == MAILER_STARTED)
		log_call(LOG_INFO, call_id_of(c), "subscriber %" PRId64 ": cpl mail to %s (addresses: %u)",
			 c->sub_id, u->rcpt[0].addr, u->n_rcpt);
out:
	free(u);
	free(msg);
}

/* Acts on a run's verdict. Returns false when the proxy is to answer with
 * the best response (the script ended after proxying). */
static bool act(struct fcall *c, struct cpl_result *res)
{
	/* The run replays the outcomes so far: what it did before the last
	 * one it used was done by an earlier run (cpl.h, outcomes). */
	for (unsigned i = 0; i < res->n_actions; i++) {
		const struct cpl_action *a = &res->actions[i];
		if (a->outcomes < c->n)
			continue;
		if (a->kind == CPL_ACT_LOG)
			log_call(LOG_INFO, call_id_of(c), "cpl log %s: %s", a->a ? a->a : "-", a->b ? a->b : "");
		else if (a->kind == CPL_ACT_MAIL)
			mail(c, res, i);
	}
	switch (res->verdict) {
	case CPL_PENDING:
		/* no timeout in the script: the server's own limit (timer C),
		 * not CPL's 20 s, or forward_busy alone would stop the ringing */
		if (attempt(c, res->proxy.locations, res->proxy.n, res->proxy.ordering,
			    res->proxy.timeout_given ? res->proxy.timeout : 0))
			return true;
		/* nothing usable to try: as a failed attempt */
		if (c->n < MAX_OUTCOMES) {
			c->outcomes[c->n++] = (struct cpl_outcome){.status = CPL_PROXY_FAILURE};
			run(c, res);
			return act(c, res);
		}
		sip_proxy_reply(c->pc, 500, "Too Many Attempts", NULL);
		return true;
	case CPL_REJECT:
		c->f->stats.rejected++;
		log_call(LOG_INFO, call_id_of(c), "subscriber %" PRId64 ": rejected %u", c->sub_id, res->status);
		sip_proxy_reply(c->pc, res->status ? res->status : 603, res->reason, NULL);
		return true;
	case CPL_REDIRECT:
		redirect(c, res);
		return true;
	case CPL_PROXY_SET: {
		/* locations set, nothing signalled: proxy to them */
		c->last_attempt = true;
		if (!attempt(c, res->locations, res->n_locations, CPL_PARALLEL, 0))
			sip_proxy_reply(c->pc, 404, NULL, NULL);
		return true;
	}
	case CPL_BEST_RESPONSE:
	case CPL_ANSWERED:
		return false;
	case CPL_DEFAULT:
	case CPL_ERROR:
	default:
		if (c->n) /* proxied before: the best response stands */
			return false;
		go_on(c);
		return true;
	}
}

static void run_and_act(struct fcall *c)
{
	if (!c->fc || !c->fc->script) {
		go_on(c);
		return;
	}
	struct cpl_result *res = malloc(sizeof(*res));
	if (!res) {
		go_on(c);
		return;
	}
	run(c, res);
	if (!act(c, res))
		sip_proxy_reply(c->pc, 500, NULL, NULL); /* cannot happen on the first run */
	free(res);
}

static bool attempt_failed(struct sip_proxy_ctx *pc, unsigned status, bool timed_out,
			   const char *const *urls, unsigned n)
{
	struct fcall *c = sip_proxy_user(pc);
	if (!c || c->last_attempt || !c->fc || !c->fc->script || c->n >= MAX_OUTCOMES)
		return false;
	struct cpl_outcome *o = &c->outcomes[c->n];
	*o = (struct cpl_outcome){.status = feature_outcome(status, timed_out)};
	if (o->status == CPL_PROXY_ANSWERED)
		return false;
	if (o->status == CPL_PROXY_REDIRECTION && n) {
		char **copy = calloc(n, sizeof(*copy));
		unsigned k = 0;
		for (unsigned i = 0; copy && i < n; i++)
			if ((copy[k] = strdup(urls[i])))
				k++;
		o->urls = (const char *const *)copy;
		o->n = k;
	}
	c->n++;
	log_call(LOG_DEBUG, call_id_of(c), "attempt %u ended: %u%s", c->n, status, timed_out ? " (timeout)" : "");
	struct cpl_result *res = malloc(sizeof(*res));
	if (!res)
		return false;
	run(c, res);
	bool took = act(c, res);
	free(res);
	return took;
}

bool featured_failed(void *ctx, struct sip_proxy_ctx *pc, unsigned status, const struct sip_msg *best)
{
	(void)ctx;
	(void)best;
	const char *urls[CPL_DEFAULT_MAX_LOCATIONS];
	char buf[4096];
	unsigned n = sip_proxy_best_contacts(pc, urls, CPL_DEFAULT_MAX_LOCATIONS, buf, sizeof(buf));
	return attempt_failed(pc, status, sip_proxy_timed_out(pc), urls, n);
}

/* ---- call return ------------------------------------------------------------ */

static void on_last_caller(void *arg, const char *caller, const char *err)
{
	struct fcall *c = arg;
	if (!sip_proxy_user(c->pc) || sip_proxy_answered(c->pc)) {
		/* answered meanwhile (a CANCEL): the context still waits for us */
		sip_proxy_reply(c->pc, 487, NULL, NULL);
		call_release(c);
		return;
	}
	if (err) {
		log_call(LOG_WARNING, call_id_of(c), "call return: %s", err);
		sip_proxy_reply(c->pc, 503, "Call Return Not Available", NULL);
	} else if (!caller) {
		sip_proxy_reply(c->pc, 404, "No Caller To Return", NULL);
	} else {
		c->f->stats.call_returns++;
		c->last_attempt = true;
		struct cpl_location l = {caller, 1.0};
		if (!attempt(c, &l, 1, CPL_PARALLEL, 0))
			sip_proxy_reply(c->pc, 404, "No Caller To Return", NULL);
	}
	call_release(c);
}

/* ---- the hooks --------------------------------------------------------------- */

static bool host_is_numeric(sip_str host)
{
	struct sip_peer p;
	return host.len && sip_peer_from_numeric(&p, SIP_TP_UDP, host.s, host.len, 5060) == 0;
}

const char *featured_outbound(void *ctx, struct sip_proxy_ctx *pc, const struct sip_uri *target)
{
	struct featured *f = ctx;
	(void)pc;
	if (f->force_redirect)
		return f->redirect_uri;
	/* redirectd's answers name their next hop by address (maddr, a
	 * device's contact): straight there; names go to redirectd */
	if (host_is_numeric(target->maddr.len ? target->maddr : target->host))
		return NULL;
	return f->redirect_uri;
}

/* The next hop's feature servers are alternatives for one job: the next
 * one (or the skip) only when one failed, never after it answered. */
enum sip_proxy_recursion featured_recursion(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *resp)
{
	struct featured *f = ctx;
	(void)pc;
	return feature_hop_redirect(f->store, resp) ? SIP_PROXY_RECURSE_FAILOVER : SIP_PROXY_RECURSE_BY_Q;
}

unsigned featured_admit(void *ctx, struct sip_msg *req, const struct sip_peer *from, char *extra,
			size_t cap)
{
	struct featured *f = ctx;
	(void)from;
	struct sip_proxy_stats ps;
	sip_proxy_get_stats(f->proxy, &ps);
	if ((f->draining || ps.unanswered >= (size_t)f->conf->max_calls) &&
	    req->method_id != SIP_METHOD_CANCEL) {
		struct sip_addr *to = sip_msg_to(req, NULL);
		if (!to || !sip_str_present(to->tag)) {
			f->stats.overload_503++;
			snprintf(extra, cap, "Retry-After: %llu\r\n",
				 (unsigned long long)(f->conf->retry_after / 1000));
			return 503;
		}
	}
	return 0;
}

void featured_final(void *ctx, struct sip_proxy_ctx *pc, unsigned status)
{
	(void)ctx;
	(void)status;
	struct fcall *c = sip_proxy_user(pc);
	if (!c)
		return;
	sip_proxy_set_user(pc, NULL);
	c->answered = true;
	call_release(c);
}

static bool trusted(struct featured *f, const struct sip_peer *src)
{
	struct sip_peer r;
	const struct config_addr *a = &f->conf->redirect;
	if (sip_peer_from_numeric(&r, SIP_TP_UDP, a->host, strlen(a->host), a->port) == 0 &&
	    sip_peer_equal(&r, src))
		return true;
	for (size_t i = 0; i < f->conf->trusted_peers.n; i++) {
		const struct config_addr *t = &f->conf->trusted_peers.v[i].addr;
		struct sip_peer p;
		if (sip_peer_from_numeric(&p, src->transport, t->host, strlen(t->host),
					  t->port ? t->port : sip_peer_port(src)) == 0 &&
		    sip_peer_equal(&p, src))
			return true;
	}
	return src->transport == SIP_TP_UDP &&
	       store_is_server_addr(f->store, (const struct sockaddr *)&src->addr, sip_peer_port(src));
}

static bool uri_is_us(struct featured *f, const struct sip_uri *u)
{
	if (!sip_str_caseeq_lit(u->host, f->host))
		return false;
	for (int t = 0; t < SIP_TP_COUNT; t++)
		if (f->port[t] && (u->has_port ? u->port : 5060) == f->port[t])
			return true;
	return false;
}

/* The subscriber whose features the hop runs. */
static const struct store_subscriber *hop_subscriber(struct featured *f, struct sip_msg *req,
						     unsigned side)
{
	if (side == FEATURE_SIDE_CALLING) {
		struct sip_addr *from = sip_msg_from(req, NULL);
		if (!from)
			return NULL;
		return store_subscriber_by_aor(f->store, from->uri.user, from->uri.host);
	}
	const struct store_subscriber *s = store_subscriber_by_aor(f->store, req->ruri.user, req->ruri.host);
	return s ? s : store_subscriber_by_did(f->store, req->ruri.user);
}

void featured_route(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *req)
{
	struct featured *f = ctx;
	sip_str cid = sip_msg_call_id(req);
	/* OPTIONS for us (a monitor, a keep-alive): we are alive */
	if (req->method_id == SIP_METHOD_OPTIONS && (!req->ruri.user.len || uri_is_us(f, &req->ruri))) {
		sip_proxy_reply(pc, 200, NULL, "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n");
		return;
	}
	if (!trusted(f, sip_proxy_source(pc))) {
		f->stats.refused_untrusted++;
		log_call(LOG_INFO, cid, "request from an address that is no platform server: 403");
		sip_proxy_reply(pc, 403, "Platform Servers Only", NULL);
		return;
	}
	sip_str value;
	struct feature_hop hop;
	if (!sip_uri_param(&req->ruri, FEATURE_HOP_PARAM, &value) || !value.s ||
	    feature_hop_parse(value, f->key, cid, req->ruri.user, req->ruri.host, &hop) < 0) {
		f->stats.refused_hop++;
		log_call(LOG_WARNING, cid, "%.*s without a valid %s: 403", (int)req->method.len, req->method.s,
			 FEATURE_HOP_PARAM);
		sip_proxy_reply(pc, 403, "Invalid Feature Hop", NULL);
		return;
	}
	if (hop.phase == FEATURE_HOP_RETARGETED) {
		f->stats.refused_hop++;
		log_call(LOG_WARNING, cid, "a retargeted hop (phase r) sent to a feature server: 403");
		sip_proxy_reply(pc, 403, "Retargeted Hop Is For The Redirect Server", NULL);
		return;
	}
	struct fcall *c = calloc(1, sizeof(*c));
	char cont[1400];
	int n = feature_target_continue(&req->ruri, cont, sizeof(cont));
	if (!c || n < 0 || !(c->cont = strdup(cont)) || !(c->call_id = dup_str(cid))) {
		if (c)
			free(c->cont);
		free(c);
		sip_proxy_reply(pc, n < 0 ? 416 : 500, NULL, NULL);
		return;
	}
	c->f = f;
	c->pc = pc;
	c->refs = 1;
	c->call_id_len = cid.len;
	c->hop = hop;
	c->side = hop.phase == FEATURE_HOP_CALLING ? FEATURE_SIDE_CALLING : FEATURE_SIDE_CALLED;
	c->now = (time_t)(ev_now(f->loop) / 1000);
	if (c->now < 1000000)
		c->now = time(NULL);
	sip_proxy_set_user(pc, c);
	if (req->method_id != SIP_METHOD_INVITE) {
		/* only calls run features: anything else goes on */
		go_on(c);
		return;
	}
	f->stats.calls++;
	struct sip_addr *from = sip_msg_from(req, NULL), *to = sip_msg_to(req, NULL);
	if (from) {
		c->from_uri = dup_str(from->uri.raw);
		if (from->display.s)
			c->from_display = dup_str(from->display);
	}
	if (to)
		c->to_uri = dup_str(to->uri.raw);
	const struct store_subscriber *sub = hop_subscriber(f, req, c->side);
	const struct store_domain *dom = sub ? store_domain_by_id(f->store, sub->domain_id) : NULL;
	if (!sub || !dom) {
		log_call(LOG_INFO, cid, "%s side: no subscriber, going on without features",
			 c->side == FEATURE_SIDE_CALLING ? "calling" : "called");
		go_on(c);
		return;
	}
	c->sub_id = sub->id;
	c->domain = strdup(dom->name);
	if (asprintf(&c->aor, "%s@%s", sub->user, dom->name) < 0)
		c->aor = NULL;
	c->fc = featured_compiled(f, sub->id, sub->user, dom->name, c->side, hop.group_id, cid);
	log_call(LOG_DEBUG, cid, "%s side of subscriber %" PRId64 " (group %" PRId64 "): %s",
		 c->side == FEATURE_SIDE_CALLING ? "calling" : "called", sub->id, hop.group_id,
		 c->fc ? (c->fc->script ? "script" : "native features only") : "no features");
	if (!c->domain || !c->fc) {
		go_on(c);
		return;
	}
	if (c->fc->call_return) {
		if (c->side == FEATURE_SIDE_CALLED) {
			if (c->from_uri && !feature_caller_private(req))
				featured_db_record_caller(f, sub->id, c->from_uri);
		} else if (sip_str_eq(req->ruri.user, sip_str_make(f->conf->call_return_code,
								      strlen(f->conf->call_return_code)))) {
			c->refs++;
			if (featured_db_last_caller(f, sub->id, on_last_caller, c) < 0) {
				c->refs--;
				sip_proxy_reply(pc, 503, "Call Return Not Available", NULL);
			}
			return;
		}
	}
	if (c->fc->caller_id_blocking && c->side == FEATURE_SIDE_CALLING) {
		if (feature_anonymize(req) < 0 || sip_proxy_commit_edits(pc) < 0)
			log_call(LOG_WARNING, cid, "caller-ID blocking: the From could not be replaced");
		else
			f->stats.anonymized++;
	}
	run_and_act(c);
}
