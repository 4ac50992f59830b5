/*
 * CPL (RFC 3880): every example script of the RFC (tests/conformance/cpl/,
 * README.md there says what each must do) compiled and run against
 * simulated calls and call outcomes; the extension examples (fig28, fig29)
 * and hostile or broken scripts refused with messages that say where; the
 * limits; the time-switch recurrence rules.
 */
#include "unit/testutil.h"

#include "feature/cpl.h"

#define FIG "tests/conformance/cpl/"

static struct cpl_script *load(const char *name)
{
	char path[256], err[512];
	size_t len;
	snprintf(path, sizeof(path), FIG "%s", name);
	char *xml = read_file(path, &len);
	assert_non_null(xml);
	struct cpl_script *s = cpl_compile(xml, len, NULL, err, sizeof(err));
	if (!s)
		fail_msg("%s: %s", name, err);
	free(xml);
	return s;
}

/* Compiles text expecting a refusal whose message contains want. */
static void refused(const char *xml, const struct cpl_limits *lim, const char *want)
{
	char err[512];
	struct cpl_script *s = cpl_compile(xml, strlen(xml), lim, err, sizeof(err));
	if (s) {
		cpl_free(s);
		fail_msg("accepted, wanted refusal with \"%s\"", want);
	}
	if (!strstr(err, want))
		fail_msg("message \"%s\" lacks \"%s\"", err, want);
	assert_null(strchr(err, '\n'));
}

/* ---- the simulated server --------------------------------------------- */

struct sim {
	enum cpl_proxy_status proxy[8]; /* outcome of the n-th proxy attempt */
	const char *const *redirect_to;
	unsigned n_redirect;
	enum cpl_lookup_status lookup;
	const char *const *found;
	unsigned n_found;
	/* what was asked */
	int nproxy, nlookup;
	char asked[8][4][64]; /* locations of each proxy attempt */
	unsigned asked_n[8];
	struct cpl_proxy_request req[8];
	char lookup_source[128];
	unsigned lookup_timeout;
};

static enum cpl_proxy_status sim_proxy(void *ctx, const struct cpl_proxy_request *req,
				       const char *const **urls, unsigned *n)
{
	struct sim *sim = ctx;
	assert_true(sim->nproxy < 8);
	int i = sim->nproxy++;
	sim->req[i] = *req;
	sim->asked_n[i] = req->n;
	for (unsigned k = 0; k < req->n && k < 4; k++)
		snprintf(sim->asked[i][k], 64, "%s", req->locations[k].url);
	*urls = sim->redirect_to;
	*n = sim->n_redirect;
	return sim->proxy[i];
}

static enum cpl_lookup_status sim_lookup(void *ctx, const char *source, unsigned timeout,
					 const char *const **urls, unsigned *n)
{
	struct sim *sim = ctx;
	sim->nlookup++;
	snprintf(sim->lookup_source, sizeof(sim->lookup_source), "%s", source ? source : "");
	sim->lookup_timeout = timeout;
	*urls = sim->found;
	*n = sim->n_found;
	return sim->lookup;
}

struct uris {
	struct sip_uri from, ruri, to;
};

/* A call from `from` (URI text, or NULL) to sip:jones@example.com. */
static struct cpl_call call_from(struct uris *u, const char *from, const char *to)
{
	struct cpl_call c;
	memset(&c, 0, sizeof(c));
	struct sip_error e;
	const char *ruri = "sip:jones@example.com";
	assert_int_equal(sip_uri_parse(&u->ruri, ruri, strlen(ruri), &e), 0);
	c.destination.uri = &u->ruri;
	if (from) {
		assert_int_equal(sip_uri_parse(&u->from, from, strlen(from), &e), 0);
		c.origin.uri = &u->from;
	}
	if (!to)
		to = ruri;
	assert_int_equal(sip_uri_parse(&u->to, to, strlen(to), &e), 0);
	c.original_destination.uri = &u->to;
	c.now = 1700000000;
	return c;
}

static struct cpl_result result;

static enum cpl_verdict run(const struct cpl_script *s, const struct cpl_call *c, struct sim *sim)
{
	struct cpl_outcome_src src = {sim, sim_lookup, sim_proxy};
	int rc = cpl_run(s, c, &src, &result);
	if (rc)
		fail_msg("run failed: %s", result.error);
	return result.verdict;
}

static void assert_locations(const char *first, const char *second)
{
	assert_int_equal(result.n_locations, second ? 2 : first ? 1 : 0);
	if (first)
		assert_string_equal(result.locations[0].url, first);
	if (second)
		assert_string_equal(result.locations[1].url, second);
}

/* ---- the RFC's examples --------------------------------------------- */

static void fig02_sample(void **state)
{
	struct cpl_script *s = load("fig02-sample-script.cpl");
	struct uris u;
	static const enum cpl_proxy_status fails[] = {CPL_PROXY_BUSY, CPL_PROXY_NOANSWER,
						      CPL_PROXY_FAILURE};
	for (int i = 0; i < 3; i++) {
		struct cpl_call c = call_from(&u, "sip:boss@research.example.com", NULL);
		struct sim sim = {.proxy = {fails[i]}};
		assert_int_equal(run(s, &c, &sim), CPL_REDIRECT);
		assert_int_equal(sim.nproxy, 1);
		assert_string_equal(sim.asked[0][0], "sip:jones@example.com");
		assert_int_equal(sim.req[0].timeout, 10);
		assert_true(sim.req[0].timeout_given);
		assert_false(result.permanent);
		assert_locations("sip:jones@voicemail.example.com", NULL);
	}
	/* example.com itself is a subdomain of itself; answered ends it */
	struct cpl_call c = call_from(&u, "sip:x@EXAMPLE.com", NULL);
	struct sim sim = {.proxy = {CPL_PROXY_ANSWERED}};
	assert_int_equal(run(s, &c, &sim), CPL_ANSWERED);
	assert_locations("sip:jones@example.com", NULL);
	/* other origins, and notexample.com, go straight to voicemail */
	const char *others[] = {"sip:x@notexample.com", "sip:x@example.org", "tel:+12125551212"};
	for (int i = 0; i < 3; i++) {
		c = call_from(&u, others[i], NULL);
		memset(&sim, 0, sizeof(sim));
		assert_int_equal(run(s, &c, &sim), CPL_REDIRECT);
		assert_int_equal(sim.nproxy, 0);
		assert_locations("sip:jones@voicemail.example.com", NULL);
	}
	cpl_free(s);
}

static void fig19_redirect(void **state)
{
	struct cpl_script *s = load("fig19-call-redirect-unconditional.cpl");
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	struct sim sim = {0};
	assert_int_equal(run(s, &c, &sim), CPL_REDIRECT);
	assert_false(result.permanent);
	assert_locations("sip:smith@phone.example.com", NULL);
	c.outgoing = true; /* no outgoing action: default behaviour */
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	cpl_free(s);
}

static void fig20_forward_busy_noanswer(void **state)
{
	struct cpl_script *s = load("fig20-call-forward-busy-noanswer.cpl");
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	for (int i = 0; i < 2; i++) {
		struct sim sim = {.proxy = {i ? CPL_PROXY_NOANSWER : CPL_PROXY_BUSY,
					    CPL_PROXY_ANSWERED}};
		assert_int_equal(run(s, &c, &sim), CPL_ANSWERED);
		assert_int_equal(sim.nproxy, 2);
		assert_string_equal(sim.asked[0][0], "sip:jones@jonespc.example.com");
		assert_int_equal(sim.req[0].timeout, 8);
		/* the first location was used up: only voicemail is tried */
		assert_int_equal(sim.asked_n[1], 1);
		assert_string_equal(sim.asked[1][0], "sip:jones@voicemail.example.com");
		assert_int_equal(sim.req[1].timeout, 20);
		assert_false(sim.req[1].timeout_given);
		assert_true(sim.req[1].recurse);
		assert_int_equal(sim.req[1].ordering, CPL_PARALLEL);
	}
	/* voicemail busy too: the best response */
	struct sim sim = {.proxy = {CPL_PROXY_BUSY, CPL_PROXY_BUSY}};
	assert_int_equal(run(s, &c, &sim), CPL_BEST_RESPONSE);
	/* other failures (and redirections) get default behaviour */
	sim = (struct sim){.proxy = {CPL_PROXY_FAILURE}};
	assert_int_equal(run(s, &c, &sim), CPL_BEST_RESPONSE);
	assert_int_equal(sim.nproxy, 1);
	sim = (struct sim){.proxy = {CPL_PROXY_REDIRECTION}};
	assert_int_equal(run(s, &c, &sim), CPL_BEST_RESPONSE);
	assert_int_equal(sim.nproxy, 1);
	assert_int_equal(result.n_actions, 1);
	assert_int_equal(result.actions[0].kind, CPL_ACT_PROXY);
	cpl_free(s);
}

static void fig21_redirect_default(void **state)
{
	struct cpl_script *s = load("fig21-call-forward-redirect-default.cpl");
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	static const char *const contacts[] = {"sip:jones@home.example.com",
					       "sip:jones@office.example.com"};
	struct sim sim = {.proxy = {CPL_PROXY_REDIRECTION}, .redirect_to = contacts, .n_redirect = 2};
	assert_int_equal(run(s, &c, &sim), CPL_REDIRECT);
	assert_locations("sip:jones@home.example.com", "sip:jones@office.example.com");
	static const enum cpl_proxy_status other[] = {CPL_PROXY_BUSY, CPL_PROXY_NOANSWER,
						      CPL_PROXY_FAILURE};
	for (int i = 0; i < 3; i++) {
		sim = (struct sim){.proxy = {other[i], CPL_PROXY_ANSWERED}};
		assert_int_equal(run(s, &c, &sim), CPL_ANSWERED);
		assert_int_equal(sim.nproxy, 2);
		assert_int_equal(sim.asked_n[1], 1);
		assert_string_equal(sim.asked[1][0], "sip:jones@voicemail.example.com");
	}
	cpl_free(s);
}

static void fig22_screening(void **state)
{
	struct cpl_script *s = load("fig22-call-screening.cpl");
	struct uris u;
	struct sim sim = {0};
	struct cpl_call c = call_from(&u, "sip:anonymous@anonymous.invalid", NULL);
	assert_int_equal(run(s, &c, &sim), CPL_REJECT);
	assert_int_equal(result.status, 603);
	assert_string_equal(result.reason, "I reject anonymous calls");
	/* user is case-sensitive */
	c = call_from(&u, "sip:Anonymous@anonymous.invalid", NULL);
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	c = call_from(&u, "sip:smith@example.com", NULL);
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	c = call_from(&u, NULL, NULL); /* no origin: not-present, absent here */
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	assert_int_equal(sim.nproxy, 0);
	cpl_free(s);
}

static void fig23_priority_language(void **state)
{
	struct cpl_script *s = load("fig23-priority-language-routing.cpl");
	struct uris u;
	struct sim sim = {.proxy = {CPL_PROXY_ANSWERED}};
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	c.priority = SIP_STR_LIT("emergency");
	c.accept_language = SIP_STR_LIT("es");
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	c.priority = SIP_STR_LIT("EMERGENCY");
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	/* "urgent" is not greater than urgent (see README.md) */
	static const struct {
		const char *prio, *lang, *to;
	} cases[] = {
		{"urgent", "es", "sip:spanish@operator.example.com"},
		{NULL, "es", "sip:spanish@operator.example.com"},
		{"normal", "en, es;q=0.5", "sip:spanish@operator.example.com"},
		{"non-urgent", "ES", "sip:spanish@operator.example.com"},
		{"whatever", "es", "sip:spanish@operator.example.com"}, /* unknown: normal */
		{NULL, "es-MX", "sip:english@operator.example.com"},   /* range longer than tag */
		{NULL, "es;q=0", "sip:english@operator.example.com"},
		{NULL, "*", "sip:english@operator.example.com"},
		{NULL, "fr, en", "sip:english@operator.example.com"},
		{NULL, NULL, "sip:english@operator.example.com"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c.priority = cases[i].prio ? sip_str_make(cases[i].prio, strlen(cases[i].prio))
					   : SIP_STR_NULL;
		c.accept_language = cases[i].lang
					    ? sip_str_make(cases[i].lang, strlen(cases[i].lang))
					    : SIP_STR_NULL;
		sim.nproxy = 0;
		assert_int_equal(run(s, &c, &sim), CPL_ANSWERED);
		assert_string_equal(sim.asked[0][0], cases[i].to);
	}
	cpl_free(s);
}

static void fig24_outgoing_screening(void **state)
{
	struct cpl_script *s = load("fig24-outgoing-call-screening.cpl");
	struct uris u;
	struct sim sim = {0};
	const char *barred[] = {"tel:+1-900-555-1212", "tel:19005551212",
				"sip:1-900-555-1212@gw.example.com;user=phone"};
	for (int i = 0; i < 3; i++) {
		struct cpl_call c = call_from(&u, "sip:me@example.com", barred[i]);
		c.outgoing = true;
		assert_int_equal(run(s, &c, &sim), CPL_REJECT);
		assert_int_equal(result.status, 603);
		assert_string_equal(result.reason, "Not allowed to make 1-900 calls.");
	}
	/* a 1-900 number as an ordinary SIP user is not a tel subfield */
	const char *fine[] = {"tel:+1-212-555-1212", "sip:19005551212@gw.example.com",
			      "tel:1-90"};
	for (int i = 0; i < 3; i++) {
		struct cpl_call c = call_from(&u, "sip:me@example.com", fine[i]);
		c.outgoing = true;
		assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
		/* with the destination as the starting location set */
		const char *const init[] = {fine[i]};
		c.initial_locations = init;
		c.n_initial_locations = 1;
		assert_int_equal(run(s, &c, &sim), CPL_PROXY_SET);
		assert_locations(fine[i], NULL);
	}
	/* incoming calls: no incoming action */
	struct cpl_call c = call_from(&u, "sip:me@example.com", barred[0]);
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	cpl_free(s);
}

/* 2024: DST in New York from Sunday 10 March 07:00 UTC to Sunday 3
 * November 06:00 UTC. */
static void fig25_time_of_day(void **state)
{
	struct cpl_script *s = load("fig25-time-of-day-routing.cpl");
	struct uris u;
	static const char *const regs[] = {"sip:jones@desk.example.com"};
	static const struct {
		time_t t;
		bool office;
		const char *what;
	} cases[] = {
		{1709559000, false, "Mon 4 Mar 2024 08:30 EST = 13:30 UTC"},
		{1709559000 - 1800, false, "Mon 4 Mar 2024 08:00 EST"},
		{1709560800, true, "Mon 4 Mar 2024 09:00:00 EST (start)"},
		{1709560799, false, "Mon 4 Mar 2024 08:59:59 EST"},
		{1709587800, true, "Mon 4 Mar 2024 16:30 EST = 21:30 UTC"},
		{1709589600, false, "Mon 4 Mar 2024 17:00 EST (end, excluded)"},
		{1710163800, true, "Mon 11 Mar 2024 13:30 UTC = 09:30 EDT"},
		{1710192600, false, "Mon 11 Mar 2024 21:30 UTC = 17:30 EDT"},
		{1710189000, true, "Mon 11 Mar 2024 20:30 UTC = 16:30 EDT"},
		{1710160200, false, "Mon 11 Mar 2024 12:30 UTC = 08:30 EDT"},
		{1710077400, false, "Sun 10 Mar 2024 13:30 UTC"},
		{1710005400, false, "Sat 9 Mar 2024 17:30 UTC = 12:30 EST"},
		{1709929800, true, "Fri 8 Mar 2024 20:30 UTC = 15:30 EST"},
		{1730730600, true, "Mon 4 Nov 2024 14:30 UTC = 09:30 EST"},
		{1730727000, false, "Mon 4 Nov 2024 13:30 UTC = 08:30 EST"},
		{962600400, false, "Mon 3 Jul 2000 05:00 UTC = 01:00 EDT, first day"},
		{962629200, true, "Mon 3 Jul 2000 13:00 UTC = 09:00 EDT, dtstart"},
		{962542800, false, "Sun 2 Jul 2000 13:00 UTC, before dtstart"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
		c.now = cases[i].t;
		struct sim sim = {.proxy = {CPL_PROXY_ANSWERED}, .lookup = CPL_LOOKUP_SUCCESS,
				  .found = regs, .n_found = 1};
		assert_int_equal(run(s, &c, &sim), CPL_ANSWERED);
		const char *want = cases[i].office ? "sip:jones@desk.example.com"
						   : "sip:jones@voicemail.example.com";
		if (strcmp(sim.asked[0][0], want))
			fail_msg("%s: proxied to %s", cases[i].what, sim.asked[0][0]);
		assert_int_equal(sim.nlookup, cases[i].office);
		if (cases[i].office)
			assert_string_equal(sim.lookup_source, "registration");
	}
	/* office hours, nobody registered: default behaviour */
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	c.now = 1709587800;
	struct sim sim = {.lookup = CPL_LOOKUP_NOTFOUND};
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	sim.lookup = CPL_LOOKUP_FAILURE;
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	/* the script's zone counts, whatever the process's TZ was before
	 * (the library leaves TZ in the last zone used: see cpl_time.c) */
	setenv("TZ", "Europe/Paris", 1); /* 22:30 there: after office hours */
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	assert_string_equal(getenv("TZ"), "America/New_York");
	unsetenv("TZ");
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	cpl_free(s);
}

static void fig26_location_filtering(void **state)
{
	struct cpl_script *s = load("fig26-location-filtering.cpl");
	struct uris u;
	static const char *const regs[] = {"sip:me@mobile.provider.net", "sip:me@desk.example.com"};
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	c.user_agent = SIP_STR_LIT("Inadequate Software SIP User Agent/0.9beta2");
	struct sim sim = {.proxy = {CPL_PROXY_ANSWERED}, .lookup = CPL_LOOKUP_SUCCESS,
			  .found = regs, .n_found = 2};
	assert_int_equal(run(s, &c, &sim), CPL_ANSWERED);
	assert_int_equal(sim.asked_n[0], 1);
	assert_string_equal(sim.asked[0][0], "sip:me@desk.example.com");
	/* strings match case-insensitively */
	c.user_agent = SIP_STR_LIT("inadequate software sip user agent/0.9BETA2");
	sim.nproxy = 0;
	assert_int_equal(run(s, &c, &sim), CPL_ANSWERED);
	/* only the mobile registered: the set empties, nothing to proxy to,
	 * notfound (section 10) */
	sim = (struct sim){.lookup = CPL_LOOKUP_SUCCESS, .found = regs, .n_found = 1};
	assert_int_equal(run(s, &c, &sim), CPL_REJECT);
	assert_int_equal(result.status, 404);
	assert_int_equal(sim.nproxy, 0);
	c.user_agent = SIP_STR_LIT("Inadequate Software SIP User Agent/0.9beta3");
	sim = (struct sim){.lookup = CPL_LOOKUP_SUCCESS, .found = regs, .n_found = 2};
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	assert_int_equal(sim.nlookup, 0);
	c.user_agent = SIP_STR_NULL;
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	cpl_free(s);
}

static void fig27_non_signalling(void **state)
{
	struct cpl_script *s = load("fig27-non-signalling-operations.cpl");
	struct uris u;
	static const char *const found[] = {"sip:mary@host.example.com"};
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	struct sim sim = {.proxy = {CPL_PROXY_ANSWERED}, .lookup = CPL_LOOKUP_SUCCESS,
			  .found = found, .n_found = 1};
	assert_int_equal(run(s, &c, &sim), CPL_ANSWERED);
	assert_string_equal(sim.lookup_source, "http://www.example.com/cgi-bin/locate.cgi?user=mary");
	assert_int_equal(sim.lookup_timeout, 8);
	assert_string_equal(sim.asked[0][0], "sip:mary@host.example.com");
	sim = (struct sim){.lookup = CPL_LOOKUP_FAILURE};
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	assert_int_equal(result.n_actions, 1);
	assert_int_equal(result.actions[0].kind, CPL_ACT_MAIL);
	assert_string_equal(result.actions[0].a, "mailto:mary@example.com?subject=Lookup%20failed");
	sim = (struct sim){.lookup = CPL_LOOKUP_NOTFOUND};
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	assert_int_equal(result.n_actions, 0);
	/* no lookup callback: the lookup fails */
	struct cpl_outcome_src none = {0};
	assert_int_equal(cpl_run(s, &c, &none, &result), 0);
	assert_int_equal(result.n_actions, 1);
	cpl_free(s);
}

static void fig28_fig29_extensions_refused(void **state)
{
	size_t len;
	char err[512];
	char *xml = read_file(FIG "fig28-hypothetical-distinctive-ring.cpl", &len);
	assert_non_null(xml);
	assert_null(cpl_compile(xml, len, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "dr:ring"));
	assert_non_null(strstr(err, "http://www.example.com/distinctive-ring"));
	assert_non_null(strstr(err, "line 10"));
	free(xml);
	xml = read_file(FIG "fig29-hypothetical-regex-extension.cpl", &len);
	assert_non_null(xml);
	assert_null(cpl_compile(xml, len, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "re:regex"));
	assert_non_null(strstr(err, "http://www.example.com/regex"));
	assert_non_null(strstr(err, "/cpl/incoming/address-switch/address"));
	free(xml);
}

static void fig30_complex(void **state)
{
	struct cpl_script *s = load("fig30-complex-example.cpl");
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:boss@example.com", NULL);
	struct sim sim = {.proxy = {CPL_PROXY_BUSY}};
	assert_int_equal(run(s, &c, &sim), CPL_REDIRECT);
	assert_locations("sip:jones@voicemail.example.com", NULL);
	sim = (struct sim){.proxy = {CPL_PROXY_NOANSWER, CPL_PROXY_ANSWERED}};
	assert_int_equal(run(s, &c, &sim), CPL_ANSWERED);
	assert_string_equal(sim.asked[0][0], "sip:jones@phone.example.com");
	assert_int_equal(sim.req[0].timeout, 8);
	assert_int_equal(sim.asked_n[1], 1);
	assert_string_equal(sim.asked[1][0], "tel:+19175551212");
	sim = (struct sim){.proxy = {CPL_PROXY_FAILURE}};
	assert_int_equal(run(s, &c, &sim), CPL_BEST_RESPONSE);
	c = call_from(&u, "sip:clerk@example.com", NULL);
	sim = (struct sim){.proxy = {CPL_PROXY_NOANSWER}};
	assert_int_equal(run(s, &c, &sim), CPL_REDIRECT);
	assert_locations("sip:jones@voicemail.example.com", NULL);
	cpl_free(s);
}

/* ---- replay: runs across asynchronous outcomes ---------------------- */

/* Runs s with the recorded outcomes, as featured does after each attempt. */
static enum cpl_verdict replay(const struct cpl_script *s, const struct cpl_call *c,
			       const struct cpl_outcome *o, unsigned n)
{
	struct cpl_replay rp = {.outcomes = o, .n = n};
	struct cpl_outcome_src src = {.ctx = &rp, .lookup = NULL, .proxy = cpl_replay_proxy};
	int rc = cpl_run(s, c, &src, &result);
	if (rc)
		fail_msg("run failed: %s", result.error);
	assert_int_equal(rp.next, result.n_proxied);
	return result.verdict;
}

static void replay_complex(void **state)
{
	struct cpl_script *s = load("fig30-complex-example.cpl");
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:boss@example.com", NULL);
	/* nothing known: the first attempt is asked for */
	assert_int_equal(replay(s, &c, NULL, 0), CPL_PENDING);
	assert_int_equal(result.proxy.n, 1);
	assert_string_equal(result.proxy.locations[0].url, "sip:jones@phone.example.com");
	assert_int_equal(result.proxy.timeout, 8);
	assert_true(result.proxy.timeout_given);
	assert_int_equal(result.n_proxied, 0);
	/* no answer, from the boss: the second attempt, to the mobile */
	struct cpl_outcome o[3] = {{.status = CPL_PROXY_NOANSWER}};
	assert_int_equal(replay(s, &c, o, 1), CPL_PENDING);
	assert_int_equal(result.proxy.n, 1);
	assert_string_equal(result.proxy.locations[0].url, "tel:+19175551212");
	assert_int_equal(result.n_proxied, 1);
	/* it failed too: nothing more to try, the best response */
	o[1].status = CPL_PROXY_FAILURE;
	assert_int_equal(replay(s, &c, o, 2), CPL_BEST_RESPONSE);
	o[1].status = CPL_PROXY_ANSWERED;
	assert_int_equal(replay(s, &c, o, 2), CPL_ANSWERED);
	/* busy: voicemail by redirect */
	o[0].status = CPL_PROXY_BUSY;
	assert_int_equal(replay(s, &c, o, 1), CPL_REDIRECT);
	assert_locations("sip:jones@voicemail.example.com", NULL);
	/* the same outcomes give the same answer every time (determinism) */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(replay(s, &c, o, 1), CPL_REDIRECT);
		assert_locations("sip:jones@voicemail.example.com", NULL);
	}
	/* outcomes past the attempts the script makes are not consumed */
	o[1].status = CPL_PROXY_BUSY;
	assert_int_equal(replay(s, &c, o, 2), CPL_REDIRECT);
	assert_int_equal(result.n_proxied, 1);
	cpl_free(s);
}

static void replay_matches_synchronous_run(void **state)
{
	/* fig20 driven by callbacks that know every outcome at once and by
	 * replay, attempt by attempt, agree */
	struct cpl_script *s = load("fig20-call-forward-busy-noanswer.cpl");
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	static const enum cpl_proxy_status first[] = {CPL_PROXY_BUSY, CPL_PROXY_NOANSWER,
						      CPL_PROXY_FAILURE, CPL_PROXY_REDIRECTION};
	for (int i = 0; i < 4; i++)
		for (int second = CPL_PROXY_ANSWERED; second <= CPL_PROXY_FAILURE; second++) {
			struct sim sim = {.proxy = {first[i], (enum cpl_proxy_status)second}};
			enum cpl_verdict want = run(s, &c, &sim);
			unsigned want_n = result.n_locations;
			struct cpl_outcome o[2] = {{.status = first[i]},
						   {.status = (enum cpl_proxy_status)second}};
			unsigned k = 0;
			enum cpl_verdict got;
			while ((got = replay(s, &c, o, k)) == CPL_PENDING) {
				assert_true(k < 2);
				/* the attempt asked is the one the callbacks saw */
				assert_int_equal(result.proxy.n, sim.asked_n[k]);
				assert_string_equal(result.proxy.locations[0].url, sim.asked[k][0]);
				assert_int_equal(result.proxy.timeout, sim.req[k].timeout);
				k++;
			}
			assert_int_equal(got, want);
			assert_int_equal(result.n_locations, want_n);
			assert_int_equal((int)k, sim.nproxy);
		}
	cpl_free(s);
}

static void replay_redirection_contacts(void **state)
{
	/* fig21: a 3xx's contacts come back as the locations of the redirect */
	struct cpl_script *s = load("fig21-call-forward-redirect-default.cpl");
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	static const char *const contacts[] = {"sip:x@one.example", "sip:y@two.example"};
	struct cpl_outcome o[1] = {{.status = CPL_PROXY_REDIRECTION, .urls = contacts, .n = 2}};
	assert_int_equal(replay(s, &c, NULL, 0), CPL_PENDING);
	assert_int_equal(replay(s, &c, o, 1), CPL_REDIRECT);
	assert_locations("sip:x@one.example", "sip:y@two.example");
	o[0] = (struct cpl_outcome){.status = CPL_PROXY_BUSY};
	assert_int_equal(replay(s, &c, o, 1), CPL_PENDING);
	assert_string_equal(result.proxy.locations[0].url, "sip:jones@voicemail.example.com");
	cpl_free(s);
}

/* ---- a gate before the hop's script (cpl_run_gated) ------------------ */

static struct cpl_script *compile_text(const char *body)
{
	char xml[2048], err[300];
	snprintf(xml, sizeof(xml),
		 "<?xml version=\"1.0\"?><cpl xmlns=\"urn:ietf:params:xml:ns:cpl\">%s</cpl>", body);
	struct cpl_script *s = cpl_compile(xml, strlen(xml), NULL, err, sizeof(err));
	if (!s)
		fail_msg("%s: %s", body, err);
	return s;
}

static enum cpl_verdict gated(const struct cpl_script *gate, const struct cpl_script *own,
			      const struct cpl_call *c, const struct cpl_outcome *o, unsigned n,
			      bool *by_gate)
{
	if (cpl_run_gated(gate, own, "sip:jones@example.com", c, NULL, o, n, &result, by_gate))
		fail_msg("run failed: %s", result.error);
	return result.verdict;
}

static void gated_runs(void **state)
{
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	bool by_gate;
	/* no gate: the script alone, as replay runs it */
	struct cpl_script *fig20 = load("fig20-call-forward-busy-noanswer.cpl");
	struct cpl_outcome busy = {.status = CPL_PROXY_BUSY};
	assert_int_equal(gated(NULL, fig20, &c, &busy, 1, &by_gate), replay(fig20, &c, &busy, 1));
	assert_false(by_gate);

	/* a gate whose attempt is the call's own destination (the same URI,
	 * written otherwise) stops there and lets the script decide */
	struct cpl_script *ring = compile_text(
		"<incoming><location url=\"sip:jones@EXAMPLE.COM\"><proxy timeout=\"9\">"
		"<busy><reject status=\"busy\" reason=\"gate\"/></busy></proxy></location></incoming>");
	struct cpl_script *rejects = compile_text("<incoming><reject status=\"notfound\"/></incoming>");
	assert_int_equal(gated(ring, rejects, &c, NULL, 0, &by_gate), CPL_REJECT);
	assert_int_equal(result.status, 404);
	assert_false(by_gate);
	/* the script's attempts are its own, replayed after the gate's */
	assert_int_equal(gated(ring, fig20, &c, NULL, 0, &by_gate), CPL_PENDING);
	assert_false(by_gate);
	assert_string_equal(result.proxy.locations[0].url, "sip:jones@jonespc.example.com");
	assert_int_equal(gated(ring, fig20, &c, &busy, 1, &by_gate), CPL_PENDING);
	assert_string_equal(result.proxy.locations[0].url, "sip:jones@voicemail.example.com");

	/* a script with nothing to say: the gate's attempt goes ahead, its
	 * outputs handle the outcome */
	struct cpl_script *quiet = compile_text("<incoming><log name=\"quiet\"/></incoming>");
	assert_int_equal(gated(ring, quiet, &c, NULL, 0, &by_gate), CPL_PENDING);
	assert_true(by_gate);
	assert_int_equal(result.proxy.timeout, 9);
	assert_int_equal(gated(ring, quiet, &c, &busy, 1, &by_gate), CPL_REJECT);
	assert_true(by_gate);
	assert_int_equal(result.status, 486);
	assert_string_equal(result.reason, "gate");

	/* an attempt that is not the destination alone is the gate's decision */
	struct cpl_script *forward = compile_text(
		"<incoming><location url=\"sip:jones@example.com\"><location url=\"sip:x@y.example\">"
		"<proxy/></location></location></incoming>");
	assert_int_equal(gated(forward, rejects, &c, NULL, 0, &by_gate), CPL_PENDING);
	assert_true(by_gate);
	assert_int_equal(result.proxy.n, 2);
	struct cpl_outcome failed = {.status = CPL_PROXY_FAILURE};
	assert_int_equal(gated(forward, rejects, &c, &failed, 1, &by_gate), CPL_BEST_RESPONSE);
	assert_true(by_gate);
	/* a gate with nothing to say, or quiet both: default behaviour */
	assert_int_equal(gated(quiet, rejects, &c, NULL, 0, &by_gate), CPL_REJECT);
	assert_false(by_gate);
	assert_int_equal(gated(quiet, quiet, &c, NULL, 0, &by_gate), CPL_DEFAULT);
	cpl_free(fig20);
	cpl_free(ring);
	cpl_free(rejects);
	cpl_free(quiet);
	cpl_free(forward);
}

/* Every action says how many outcomes the run had used before it, so that
 * a server running by replay does a log or a mail once: the ones before the
 * newest outcome were done by an earlier run. */
static void action_outcomes(void **state)
{
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	struct cpl_script *s = compile_text(
		"<incoming><log name=\"a\"><mail url=\"mailto:a@b.example\">"
		"<location url=\"sip:x@y.example\"><proxy><busy><log name=\"c\">"
		"<location url=\"sip:v@y.example\"><proxy><busy><mail url=\"mailto:d@b.example\"/>"
		"</busy></proxy></location></log></busy></proxy></location></mail></log></incoming>");
	struct cpl_outcome busy[2] = {{.status = CPL_PROXY_BUSY}, {.status = CPL_PROXY_BUSY}};
	assert_int_equal(gated(NULL, s, &c, busy, 0, NULL), CPL_PENDING);
	assert_int_equal(result.n_actions, 2);
	assert_int_equal(result.actions[0].outcomes, 0);
	assert_int_equal(result.actions[1].kind, CPL_ACT_MAIL);
	assert_int_equal(result.actions[1].outcomes, 0);
	assert_int_equal(gated(NULL, s, &c, busy, 1, NULL), CPL_PENDING);
	/* log a, mail, attempt 1, log c: only c follows outcome 1 */
	assert_int_equal(result.n_actions, 4);
	assert_int_equal(result.actions[1].outcomes, 0);
	assert_int_equal(result.actions[2].kind, CPL_ACT_PROXY);
	assert_int_equal(result.actions[2].outcomes, 0);
	assert_int_equal(result.actions[3].kind, CPL_ACT_LOG);
	assert_int_equal(result.actions[3].outcomes, 1);
	assert_int_equal(gated(NULL, s, &c, busy, 2, NULL), CPL_BEST_RESPONSE);
	assert_int_equal(result.n_actions, 6);
	assert_int_equal(result.actions[5].kind, CPL_ACT_MAIL);
	assert_string_equal(result.actions[5].a, "mailto:d@b.example");
	assert_int_equal(result.actions[5].outcomes, 2);

	/* beside a gate: the script's actions count after the gate's
	 * outcomes, and a script that only mails keeps its mail when the
	 * gate's ringing goes ahead, before the ringing's attempt */
	struct cpl_script *ring = compile_text(
		"<incoming><log name=\"g\"><location url=\"sip:jones@example.com\"><proxy>"
		"<busy><log name=\"after\"/></busy></proxy></location></log></incoming>");
	struct cpl_script *mails = compile_text("<incoming><mail url=\"mailto:m@b.example\"/></incoming>");
	bool by_gate;
	assert_int_equal(gated(ring, mails, &c, busy, 0, &by_gate), CPL_PENDING);
	assert_true(by_gate);
	assert_int_equal(result.n_actions, 2);
	assert_int_equal(result.actions[0].kind, CPL_ACT_LOG);
	assert_int_equal(result.actions[1].kind, CPL_ACT_MAIL);
	assert_int_equal(result.actions[1].outcomes, 0);
	assert_int_equal(gated(ring, mails, &c, busy, 1, &by_gate), CPL_BEST_RESPONSE);
	assert_int_equal(result.n_actions, 4);
	assert_int_equal(result.actions[1].kind, CPL_ACT_MAIL);
	assert_int_equal(result.actions[1].outcomes, 0);
	assert_int_equal(result.actions[2].kind, CPL_ACT_PROXY);
	assert_int_equal(result.actions[3].kind, CPL_ACT_LOG);
	assert_int_equal(result.actions[3].outcomes, 1);
	/* the script proxying itself after the gate's continuation */
	struct cpl_script *fwd = compile_text(
		"<incoming><location url=\"sip:v@y.example\"><proxy><busy><mail url=\"mailto:m@b.example\"/>"
		"</busy></proxy></location></incoming>");
	assert_int_equal(gated(ring, fwd, &c, busy, 1, &by_gate), CPL_BEST_RESPONSE);
	assert_false(by_gate);
	assert_int_equal(result.n_actions, 2);
	assert_int_equal(result.actions[1].kind, CPL_ACT_MAIL);
	assert_int_equal(result.actions[1].outcomes, 1);
	cpl_free(s);
	cpl_free(ring);
	cpl_free(mails);
	cpl_free(fwd);
}

/* ---- refusals and limits ------------------------------------------------ */

#define HEAD "<?xml version=\"1.0\"?>\n<cpl xmlns=\"urn:ietf:params:xml:ns:cpl\">\n"

static void refuses_bad_xml(void **state)
{
	refused("<cpl", NULL, "not well-formed XML");
	refused("", NULL, "not well-formed XML");
	refused(HEAD "<incoming><reject status=\"busy\"></incoming></cpl>", NULL, "line 3");
	refused("<?xml version=\"1.0\"?>\n<!DOCTYPE cpl [<!ENTITY a \"aaaa\">]>\n"
		"<cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming><reject status=\"busy\" "
		"reason=\"&a;\"/></incoming></cpl>",
		NULL, "DTD");
	refused("<?xml version=\"1.0\"?>\n<!DOCTYPE cpl [<!ENTITY x SYSTEM "
		"\"file:///etc/passwd\">]>\n<cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming>"
		"<reject status=\"busy\" reason=\"&x;\"/></incoming></cpl>",
		NULL, "external entity");
	refused("<?xml version=\"1.0\"?>\n<!DOCTYPE cpl [<!ENTITY x SYSTEM "
		"\"file:///etc/passwd\">]>\n<cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming>"
		"<log name=\"n\">&x;<proxy/></log></incoming></cpl>",
		NULL, "DTD");
	refused("<?xml version=\"1.0\"?>\n<!DOCTYPE cpl SYSTEM \"http://example.com/cpl.dtd\">\n"
		"<cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"/>",
		NULL, "DTD");
	/* an undefined entity is not well-formed */
	refused(HEAD "<incoming><reject status=\"busy\" reason=\"&x;\"/></incoming></cpl>", NULL,
		"not well-formed");
	refused("<cpl/>", NULL, "namespace none");
	/* billion laughs: refused, without expanding it */
	const char *lol = "<?xml version=\"1.0\"?>\n<!DOCTYPE cpl [\n"
			  "<!ENTITY a \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\">\n"
			  "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n"
			  "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">\n"
			  "<!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;\">\n"
			  "<!ENTITY e \"&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;\">\n"
			  "<!ENTITY f \"&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;\">\n"
			  "]>\n<cpl xmlns=\"urn:ietf:params:xml:ns:cpl\"><incoming><log name=\"n\">"
			  "&f;&f;&f;&f;</log></incoming></cpl>";
	char err[256];
	assert_null(cpl_compile(lol, strlen(lol), NULL, err, sizeof(err)));
	/* nesting far past the limit stops early, whoever notices first */
	size_t cap = 12 * 5000 + 200, o = 0;
	char *deep = malloc(cap);
	o += (size_t)snprintf(deep, cap, HEAD "<incoming>");
	for (int i = 0; i < 5000; i++)
		o += (size_t)snprintf(deep + o, cap - o, "<log>");
	struct cpl_limits big = {.max_bytes = cap};
	assert_null(cpl_compile(deep, o, &big, err, sizeof(err)));
	assert_true(strstr(err, "depth") || strstr(err, "deeper"));
	free(deep);
	refused("<?xml version=\"1.0\"?><foo xmlns=\"urn:ietf:params:xml:ns:cpl\"/>", NULL,
		"the root element must be cpl");
}

static void refuses_invalid_scripts(void **state)
{
	refused(HEAD "<incoming>\n<frobnicate/>\n</incoming></cpl>", NULL, "line 4");
	refused(HEAD "<incoming>\n<frobnicate/>\n</incoming></cpl>", NULL, "schema");
	refused(HEAD "<incoming><reject/></incoming></cpl>", NULL, "schema");
	refused(HEAD "<incoming><reject status=\"299\"/></incoming></cpl>", NULL, "status");
	refused(HEAD "<incoming><proxy timeout=\"soon\"/></incoming></cpl>", NULL, "schema");
	refused(HEAD "<incoming/>\n<incoming/></cpl>", NULL, "line 4: /cpl/incoming: a second incoming");
	refused(HEAD "<incoming><location url=\"not a uri\"><proxy/></location></incoming></cpl>",
		NULL, "is not a URI");
	refused(HEAD "<incoming><address-switch field=\"origin\" subfield=\"user\">"
		     "<address contains=\"x\"/></address-switch></incoming></cpl>",
		NULL, "contains applies to subfield display only");
	refused(HEAD "<incoming><time-switch tzid=\"Mars/Olympus_Mons\"><time dtstart="
		     "\"20000703T090000\" duration=\"PT8H\"/></time-switch></incoming></cpl>",
		NULL, "not in the tz database");
	refused(HEAD "<incoming><time-switch tzid=\"../../etc/passwd\"><time dtstart="
		     "\"20000703T090000\" duration=\"PT8H\"/></time-switch></incoming></cpl>",
		NULL, "not in the tz database");
}

static void refuses_recursion(void **state)
{
	/* a subaction calling itself */
	refused(HEAD "<subaction id=\"a\">\n<sub ref=\"a\"/>\n</subaction>\n"
		     "<incoming><sub ref=\"a\"/></incoming></cpl>",
		NULL, "line 4: /cpl/subaction/sub: sub ref=\"a\" refers to its own or a later "
		      "subaction: recursion is forbidden");
	/* a loop through two subactions needs a forward reference */
	refused(HEAD "<subaction id=\"a\"><sub ref=\"b\"/></subaction>\n"
		     "<subaction id=\"b\"><sub ref=\"a\"/></subaction>\n"
		     "<incoming><sub ref=\"b\"/></incoming></cpl>",
		NULL, "recursion is forbidden");
	refused(HEAD "<incoming><sub ref=\"nowhere\"/></incoming></cpl>", NULL,
		"no such subaction");
	refused(HEAD "<subaction id=\"a\"><reject status=\"busy\"/></subaction>"
		     "<subaction id=\"a\"><reject status=\"busy\"/></subaction>"
		     "<incoming><sub ref=\"a\"/></incoming></cpl>",
		NULL, "");
	/* backward references are fine, and shared */
	const char *ok = HEAD "<subaction id=\"a\"><reject status=\"busy\" reason=\"r\"/></subaction>"
			      "<subaction id=\"b\"><log name=\"x\"><sub ref=\"a\"/></log></subaction>"
			      "<incoming><sub ref=\"b\"/></incoming>"
			      "<outgoing><sub ref=\"a\"/></outgoing></cpl>";
	char err[256];
	struct cpl_script *s = cpl_compile(ok, strlen(ok), NULL, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	assert_int_equal(cpl_node_count(s), 2);
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	struct sim sim = {0};
	assert_int_equal(run(s, &c, &sim), CPL_REJECT);
	assert_int_equal(result.status, 486);
	assert_int_equal(result.n_actions, 1);
	assert_int_equal(result.actions[0].kind, CPL_ACT_LOG);
	assert_string_equal(result.actions[0].a, "x");
	assert_null(result.actions[0].b);
	c.outgoing = true;
	assert_int_equal(run(s, &c, &sim), CPL_REJECT);
	assert_int_equal(result.n_actions, 0);
	cpl_free(s);
}

/* A chain of n log nodes, each inside the last. */
static char *nested_logs(int n)
{
	size_t cap = (size_t)n * 40 + 256;
	char *x = malloc(cap);
	size_t o = (size_t)snprintf(x, cap, HEAD "<incoming>");
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(x + o, cap - o, "<log name=\"n%d\">", i);
	for (int i = 0; i < n; i++)
		o += (size_t)snprintf(x + o, cap - o, "</log>");
	snprintf(x + o, cap - o, "</incoming></cpl>");
	return x;
}

static void limits(void **state)
{
	char *x = nested_logs(30);
	struct cpl_limits lim = {.max_depth = 10};
	refused(x, &lim, "nesting deeper than 10 elements");
	refused(x, &lim, "/cpl/incoming/log/log/log");
	lim = (struct cpl_limits){.max_nodes = 20};
	refused(x, &lim, "more than 20 elements");
	lim = (struct cpl_limits){.max_bytes = 100};
	refused(x, &lim, "larger than 100");
	/* within the defaults it runs, every log recorded */
	char err[256];
	struct cpl_script *s = cpl_compile(x, strlen(x), NULL, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	struct sim sim = {0};
	assert_int_equal(run(s, &c, &sim), CPL_DEFAULT);
	assert_int_equal(result.n_actions, 30);
	assert_int_equal(result.steps, 30);
	cpl_free(s);
	/* the step limit stops a run */
	lim = (struct cpl_limits){.max_steps = 10};
	s = cpl_compile(x, strlen(x), &lim, err, sizeof(err));
	assert_non_null(s);
	struct cpl_outcome_src src = {0};
	assert_int_equal(cpl_run(s, &c, &src, &result), -1);
	assert_int_equal(result.verdict, CPL_ERROR);
	assert_non_null(strstr(result.error, "more than 10 steps"));
	cpl_free(s);
	free(x);
	/* too deep for the default limit */
	x = nested_logs(60);
	refused(x, NULL, "nesting deeper than 40");
	free(x);

	/* location nodes and the location set */
	const char *locs = HEAD "<incoming><location url=\"sip:a@x\"><location url=\"sip:b@x\">"
				"<location url=\"sip:c@x\"><proxy/></location></location></location>"
				"</incoming></cpl>";
	lim = (struct cpl_limits){.max_locations = 2};
	refused(locs, &lim, "more than 2 location nodes");
	s = cpl_compile(locs, strlen(locs), NULL, err, sizeof(err));
	assert_non_null(s);
	static const char *const many[] = {"sip:1@x", "sip:2@x", "sip:3@x"};
	sim = (struct sim){.proxy = {CPL_PROXY_REDIRECTION}, .redirect_to = many, .n_redirect = 3};
	assert_int_equal(run(s, &c, &sim), CPL_BEST_RESPONSE);
	assert_int_equal(sim.asked_n[0], 3);
	cpl_free(s);
	lim = (struct cpl_limits){.max_locations = 3};
	s = cpl_compile(locs, strlen(locs), &lim, err, sizeof(err));
	assert_non_null(s);
	static const char *const four[] = {"sip:1@x", "sip:2@x", "sip:3@x", "sip:4@x"};
	const char *lk = HEAD "<incoming><lookup source=\"registration\"><success><proxy/>"
			      "</success></lookup></incoming></cpl>";
	cpl_free(s);
	s = cpl_compile(lk, strlen(lk), &lim, err, sizeof(err));
	assert_non_null(s);
	sim = (struct sim){.lookup = CPL_LOOKUP_SUCCESS, .found = four, .n_found = 4};
	struct cpl_outcome_src src2 = {&sim, sim_lookup, sim_proxy};
	assert_int_equal(cpl_run(s, &c, &src2, &result), -1);
	assert_non_null(strstr(result.error, "location set is larger than 3"));
	cpl_free(s);
}

/* ---- switches in detail ---------------------------------------------- */

static void address_subfields(void **state)
{
	const char *x =
		HEAD "<incoming>"
		"<address-switch field=\"origin\" subfield=\"address-type\">"
		"<address is=\"TEL\"><log name=\"tel\"/></address>"
		"<otherwise><address-switch field=\"origin\" subfield=\"port\">"
		"<address is=\"05060\"><log name=\"port5060\"/></address>"
		"<not-present><address-switch field=\"origin\" subfield=\"host\">"
		"<address is=\"2001:db8::1\"><log name=\"v6\"/></address>"
		"<address subdomain-of=\"192.0.2.1\"><log name=\"v4\"/></address>"
		"<otherwise><address-switch field=\"origin\" subfield=\"display\">"
		"<address contains=\"SMITH\"><log name=\"smith\"/></address>"
		"<not-present><log name=\"nodisplay\"/></not-present>"
		"<otherwise><address-switch field=\"origin\">"
		"<address is=\"sip:Boss@Example.COM\"><log name=\"boss\"/></address>"
		"</address-switch></otherwise>"
		"</address-switch></otherwise></address-switch></not-present>"
		"</address-switch></otherwise></address-switch></incoming></cpl>";
	char err[256];
	struct cpl_script *s = cpl_compile(x, strlen(x), NULL, err, sizeof(err));
	if (!s)
		fail_msg("%s", err);
	static const struct {
		const char *from, *display, *log;
	} cases[] = {
		{"tel:+1234", NULL, "tel"},
		{"sip:a@example.com:5060", NULL, "port5060"},
		{"sip:a@[2001:DB8:0::1]", NULL, "v6"},
		{"sip:a@192.0.2.1", NULL, "v4"},
		{"sip:a@192.0.2.10", "John Smithers", "smith"},
		{"sip:a@example.com", NULL, "nodisplay"},
		{"sip:Boss@example.com", "", "boss"},
		{"sip:boss@example.com", "", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct uris u;
		struct cpl_call c = call_from(&u, cases[i].from, NULL);
		if (cases[i].display)
			c.origin.display = sip_str_make(cases[i].display, strlen(cases[i].display));
		struct sim sim = {0};
		run(s, &c, &sim);
		if (!cases[i].log) {
			assert_int_equal(result.n_actions, 0);
			continue;
		}
		assert_int_equal(result.n_actions, 1);
		if (strcmp(result.actions[0].a, cases[i].log))
			fail_msg("%s: %s", cases[i].from, result.actions[0].a);
	}
	cpl_free(s);
}

/* ---- time switches ------------------------------------------------------ */

/* Whether a one-rule time-switch matches at t (UTC). */
static bool at(const char *attrs, const char *tz, time_t t)
{
	char x[1024], err[256];
	snprintf(x, sizeof(x),
		 HEAD "<incoming><time-switch%s%s%s><time %s><log name=\"in\"/></time>"
		      "</time-switch></incoming></cpl>",
		 tz ? " tzid=\"" : "", tz ? tz : "", tz ? "\"" : "", attrs);
	struct cpl_script *s = cpl_compile(x, strlen(x), NULL, err, sizeof(err));
	if (!s)
		fail_msg("%s: %s", attrs, err);
	struct uris u;
	struct cpl_call c = call_from(&u, "sip:a@b.example", NULL);
	c.now = t;
	struct sim sim = {0};
	run(s, &c, &sim);
	cpl_free(s);
	return result.n_actions == 1;
}

#define DAY 86400
/* 2024-01-01 00:00 UTC, a Monday */
#define JAN1 1704067200

static void time_rules(void **state)
{
	/* one occurrence */
	const char *once = "dtstart=\"20240101T100000Z\" dtend=\"20240101T110000Z\"";
	assert_true(at(once, NULL, JAN1 + 10 * 3600));
	assert_false(at(once, NULL, JAN1 + 11 * 3600));
	assert_false(at(once, NULL, JAN1 + DAY + 10 * 3600));
	/* daily, every other day, 3 times */
	const char *d = "dtstart=\"20240101T100000\" duration=\"PT1H\" freq=\"daily\" "
			"interval=\"2\" count=\"3\"";
	assert_true(at(d, "UTC", JAN1 + 10 * 3600));
	assert_false(at(d, "UTC", JAN1 + DAY + 10 * 3600));
	assert_true(at(d, "UTC", JAN1 + 4 * DAY + 10 * 3600 + 1800));
	assert_false(at(d, "UTC", JAN1 + 6 * DAY + 10 * 3600));
	/* count: the 3rd occurrence is the last; a rule that rarely matches
	 * (29 February, yearly) still expands at load time */
	const char *feb29 = "dtstart=\"20240229T000000\" duration=\"PT1H\" freq=\"yearly\" "
			    "count=\"2\"";
	assert_true(at(feb29, "UTC", JAN1 + 59 * DAY + 60));
	assert_true(at(feb29, "UTC", 1835395200 + 60)); /* 29 Feb 2028 */
	assert_false(at(feb29, "UTC", 1961625600 + 60)); /* 29 Feb 2032: third */
	refused(HEAD "<incoming><time-switch><time dtstart=\"20240229T000000\" duration=\"PT1H\" "
		     "freq=\"yearly\" interval=\"100\" count=\"5\"/></time-switch></incoming></cpl>",
		NULL, "200 years");
	/* weekly until a date (inclusive) */
	const char *w = "dtstart=\"20240101T230000\" duration=\"PT2H\" freq=\"weekly\" "
			"until=\"20240115\"";
	assert_true(at(w, "UTC", JAN1 + 7 * DAY + 23 * 3600));
	assert_true(at(w, "UTC", JAN1 + 8 * DAY + 1800)); /* crosses midnight */
	assert_true(at(w, "UTC", JAN1 + 14 * DAY + 23 * 3600));
	assert_false(at(w, "UTC", JAN1 + 21 * DAY + 23 * 3600));
	/* monthly: first Monday and last Friday */
	const char *m = "dtstart=\"20240101T120000\" duration=\"PT1H\" freq=\"monthly\" "
			"byday=\"1MO,-1FR\"";
	assert_true(at(m, "UTC", JAN1 + 12 * 3600));                /* Mon 1 Jan */
	assert_false(at(m, "UTC", JAN1 + 7 * DAY + 12 * 3600));     /* Mon 8 Jan */
	assert_true(at(m, "UTC", JAN1 + 25 * DAY + 12 * 3600));     /* Fri 26 Jan */
	assert_false(at(m, "UTC", JAN1 + 18 * DAY + 12 * 3600));    /* Fri 19 Jan */
	assert_true(at(m, "UTC", JAN1 + 35 * DAY + 12 * 3600));     /* Mon 5 Feb */
	/* monthly on the last day */
	const char *last = "dtstart=\"20240101T000000\" duration=\"P1D\" freq=\"monthly\" "
			   "bymonthday=\"-1\"";
	assert_true(at(last, "UTC", JAN1 + 59 * DAY + 5));          /* 29 Feb 2024 */
	assert_false(at(last, "UTC", JAN1 + 58 * DAY + 5));
	/* yearly in bymonth, 2nd Sunday of March (a US DST start day) */
	const char *y = "dtstart=\"20240101T120000\" duration=\"PT1H\" freq=\"yearly\" "
			"bymonth=\"3\" byday=\"2SU\"";
	assert_true(at(y, "America/New_York", 1710086400 + 60)); /* 10 Mar 12:01 EDT */
	assert_false(at(y, "America/New_York", 1710086400 + 7 * DAY + 60));
	/* byyearday: the 100th day, and the last day of the year */
	const char *yd = "dtstart=\"20240101T000000\" duration=\"PT1H\" freq=\"yearly\" "
			 "byyearday=\"100,-1\"";
	assert_true(at(yd, "UTC", JAN1 + 99 * DAY + 60));    /* 9 Apr 2024 */
	assert_false(at(yd, "UTC", JAN1 + 98 * DAY + 60));
	assert_true(at(yd, "UTC", JAN1 + 365 * DAY + 60));   /* 31 Dec 2024 (leap) */
	assert_false(at(yd, "UTC", JAN1 + 364 * DAY + 60));
	/* byweekno: the Monday of week 1 and of the last week. 2024's week 1
	 * starts Mon 1 Jan; 2025's starts Mon 30 Dec 2024 (it holds 4 Jan). */
	const char *wn = "dtstart=\"20240101T000000\" duration=\"PT1H\" freq=\"yearly\" "
			 "byweekno=\"1\"";
	assert_true(at(wn, "UTC", JAN1 + 364 * DAY + 60));   /* Mon 30 Dec 2024: week 1 of 2025 */
	assert_false(at(wn, "UTC", JAN1 + 357 * DAY + 60));  /* Mon 23 Dec 2024: week 52 */
	const char *wl = "dtstart=\"20240101T000000\" duration=\"PT1H\" freq=\"yearly\" "
			 "byweekno=\"-1\" byday=\"FR\"";
	assert_true(at(wl, "UTC", JAN1 + 361 * DAY + 60));   /* Fri 27 Dec 2024: week 52 of 52 */
	assert_false(at(wl, "UTC", JAN1 + 354 * DAY + 60));
	/* dtstart is an occurrence even when the rule would not pick it */
	const char *ds = "dtstart=\"20240102T100000\" duration=\"PT1H\" freq=\"weekly\" "
			 "byday=\"MO\" count=\"2\"";
	assert_true(at(ds, "UTC", JAN1 + DAY + 10 * 3600));      /* Tue 2 Jan: dtstart */
	assert_true(at(ds, "UTC", JAN1 + 7 * DAY + 10 * 3600));  /* Mon 8 Jan: second */
	assert_false(at(ds, "UTC", JAN1 + 14 * DAY + 10 * 3600)); /* Mon 15 Jan: third */
	/* byhour and byminute: 15 minutes at 08:00, 08:30, 17:00, 17:30 on
	 * weekdays in New York, 3 times (dtstart and two more) */
	const char *bh = "dtstart=\"20240304T080000\" duration=\"PT15M\" freq=\"daily\" "
			 "byday=\"MO,TU,WE,TH,FR\" byhour=\"8,17\" byminute=\"0,30\"";
	time_t mon = 1709542800; /* Mon 4 Mar 2024 09:00 UTC = 04:00 EST */
	assert_true(at(bh, "America/New_York", mon + 4 * 3600 + 60));          /* 08:01 */
	assert_false(at(bh, "America/New_York", mon + 4 * 3600 + 16 * 60));    /* 08:16 */
	assert_true(at(bh, "America/New_York", mon + 4 * 3600 + 30 * 60));     /* 08:30 */
	assert_true(at(bh, "America/New_York", mon + 13 * 3600 + 44 * 60));    /* 17:44 */
	assert_false(at(bh, "America/New_York", mon + 13 * 3600 + 45 * 60));
	assert_true(at(bh, "America/New_York", mon + 7 * DAY - 3600 + 4 * 3600 + 60)); /* EDT */
	assert_false(at(bh, "America/New_York", mon + 5 * DAY + 4 * 3600 + 60)); /* Saturday */
	const char *bc = "dtstart=\"20240304T080000\" duration=\"PT15M\" freq=\"daily\" "
			 "byhour=\"8,17\" byminute=\"0,30\" count=\"6\"";
	assert_true(at(bc, "America/New_York", mon + 13 * 3600 + 30 * 60 + 1)); /* 4th */
	assert_true(at(bc, "America/New_York", mon + DAY + 4 * 3600 + 30 * 60 + 1)); /* 6th */
	assert_false(at(bc, "America/New_York", mon + DAY + 13 * 3600 + 1));    /* 7th */
	/* sub-daily: every other hour for 10 minutes on Tuesdays; every 15
	 * minutes for 5; every 30 seconds for 10 */
	const char *hr = "dtstart=\"20240101T010000\" duration=\"PT10M\" freq=\"hourly\" "
			 "interval=\"2\" byday=\"TU\"";
	assert_true(at(hr, "UTC", JAN1 + DAY + 3 * 3600 + 60));   /* Tue 03:01 */
	assert_false(at(hr, "UTC", JAN1 + DAY + 4 * 3600 + 60));  /* Tue 04:01 */
	assert_false(at(hr, "UTC", JAN1 + DAY + 3 * 3600 + 600)); /* Tue 03:10 */
	assert_true(at(hr, "UTC", JAN1 + DAY + 23 * 3600 + 60));  /* Tue 23:01 */
	assert_false(at(hr, "UTC", JAN1 + 2 * DAY + 1 * 3600 + 60)); /* Wed 01:01 */
	assert_true(at(hr, "UTC", JAN1 + 8 * DAY + 1 * 3600 + 60));  /* Tue 9 Jan 01:01 */
	const char *mi = "dtstart=\"20240101T000000\" duration=\"PT5M\" freq=\"minutely\" "
			 "interval=\"15\" byhour=\"12\"";
	assert_true(at(mi, "UTC", JAN1 + 3 * DAY + 12 * 3600 + 45 * 60 + 299));
	assert_false(at(mi, "UTC", JAN1 + 3 * DAY + 12 * 3600 + 45 * 60 + 300));
	assert_false(at(mi, "UTC", JAN1 + 3 * DAY + 13 * 3600 + 60));
	const char *se = "dtstart=\"20240101T000000\" duration=\"PT10S\" freq=\"secondly\" "
			 "interval=\"30\"";
	assert_true(at(se, "UTC", JAN1 + 5 * DAY + 7 * 3600 + 30 + 9));
	assert_false(at(se, "UTC", JAN1 + 5 * DAY + 7 * 3600 + 30 + 10));
	/* bysetpos: the last weekday of each month; the last start of the
	 * day among 08:00, 12:00, 16:00 */
	const char *sp = "dtstart=\"20240101T090000\" duration=\"PT1H\" freq=\"monthly\" "
			 "byday=\"MO,TU,WE,TH,FR\" bysetpos=\"-1\"";
	assert_true(at(sp, "UTC", JAN1 + 30 * DAY + 9 * 3600 + 60));  /* Wed 31 Jan */
	assert_false(at(sp, "UTC", JAN1 + 29 * DAY + 9 * 3600 + 60)); /* Tue 30 Jan */
	assert_true(at(sp, "UTC", JAN1 + 59 * DAY + 9 * 3600 + 60));  /* Thu 29 Feb */
	assert_false(at(sp, "UTC", JAN1 + 58 * DAY + 9 * 3600 + 60)); /* Wed 28 Feb */
	assert_true(at(sp, "UTC", 1711670400 + 9 * 3600 + 60));       /* Fri 29 Mar */
	assert_false(at(sp, "UTC", 1711843200 + 9 * 3600 + 60));      /* Sun 31 Mar */
	const char *sd = "dtstart=\"20240101T080000\" duration=\"PT1H\" freq=\"daily\" "
			 "byhour=\"8,12,16\" bysetpos=\"-1\" count=\"3\"";
	assert_true(at(sd, "UTC", JAN1 + 8 * 3600 + 60));             /* dtstart, 1st */
	assert_false(at(sd, "UTC", JAN1 + 12 * 3600 + 60));
	assert_true(at(sd, "UTC", JAN1 + 16 * 3600 + 60));            /* 2nd */
	assert_false(at(sd, "UTC", JAN1 + DAY + 8 * 3600 + 60));
	assert_true(at(sd, "UTC", JAN1 + DAY + 16 * 3600 + 60));      /* 3rd */
	assert_false(at(sd, "UTC", JAN1 + 2 * DAY + 16 * 3600 + 60)); /* 4th */
	/* weekly every other week with wkst */
	const char *ww = "dtstart=\"20240101T090000\" duration=\"PT1H\" freq=\"weekly\" "
			 "interval=\"2\" byday=\"MO,SU\" wkst=\"SU\"";
	assert_true(at(ww, "UTC", JAN1 + 9 * 3600));
	assert_false(at(ww, "UTC", JAN1 + 6 * DAY + 9 * 3600));  /* Sun 7 Jan: week 2 with SU */
	assert_true(at(ww, "UTC", JAN1 + 13 * DAY + 9 * 3600));  /* Sun 14 Jan */
	const char *wm = "dtstart=\"20240101T090000\" duration=\"PT1H\" freq=\"weekly\" "
			 "interval=\"2\" byday=\"MO,SU\"";
	assert_true(at(wm, "UTC", JAN1 + 6 * DAY + 9 * 3600));   /* Sun 7 Jan: week 1 with MO */
	assert_false(at(wm, "UTC", JAN1 + 13 * DAY + 9 * 3600));
}

static void time_unsupported(void **state)
{
	refused(HEAD "<incoming><time-switch><time dtstart=\"20240101T100000\" duration=\"PT1M\" "
		     "freq=\"hourly\" bysetpos=\"1\"/></time-switch></incoming></cpl>",
		NULL, "not supported yet");
	refused(HEAD "<incoming><time-switch><time dtstart=\"20240101T100000\" duration=\"PT1H\" "
		     "freq=\"fortnightly\"/></time-switch></incoming></cpl>",
		NULL, "schema");
	refused(HEAD "<incoming><time-switch><time dtstart=\"20240101T100000\" duration=\"PT1S\" "
		     "freq=\"minutely\" bysecond=\"60\"/></time-switch></incoming></cpl>",
		NULL, "bysecond \"60\" is not a list of 0..59");
	refused(HEAD "<incoming><time-switch tzurl=\"http://tz.example/x\"><time dtstart="
		     "\"20240101T100000\" duration=\"PT1H\"/></time-switch></incoming></cpl>",
		NULL, "tzurl without tzid is not supported yet");
	refused(HEAD "<incoming><time-switch><time dtstart=\"20240101T100000\" duration=\"P400D\"/>"
		     "</time-switch></incoming></cpl>",
		NULL, "not supported yet");
	refused(HEAD "<incoming><time-switch><time dtstart=\"20240101T100000\" duration=\"PT1H\" "
		     "freq=\"weekly\" byday=\"1MO\"/></time-switch></incoming></cpl>",
		NULL, "numeric prefixes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fig02_sample),
		cmocka_unit_test(fig19_redirect),
		cmocka_unit_test(fig20_forward_busy_noanswer),
		cmocka_unit_test(fig21_redirect_default),
		cmocka_unit_test(fig22_screening),
		cmocka_unit_test(fig23_priority_language),
		cmocka_unit_test(fig24_outgoing_screening),
		cmocka_unit_test(fig25_time_of_day),
		cmocka_unit_test(fig26_location_filtering),
		cmocka_unit_test(fig27_non_signalling),
		cmocka_unit_test(fig28_fig29_extensions_refused),
		cmocka_unit_test(fig30_complex),
		cmocka_unit_test(replay_complex),
		cmocka_unit_test(replay_matches_synchronous_run),
		cmocka_unit_test(replay_redirection_contacts),
		cmocka_unit_test(gated_runs),
		cmocka_unit_test(action_outcomes),
		cmocka_unit_test(refuses_bad_xml),
		cmocka_unit_test(refuses_invalid_scripts),
		cmocka_unit_test(refuses_recursion),
		cmocka_unit_test(limits),
		cmocka_unit_test(address_subfields),
		cmocka_unit_test(time_rules),
		cmocka_unit_test(time_unsupported),
	};
	return cmocka_run_group_tests_name("cpl", tests, NULL, NULL);
}
