/*
 * The CPL generator (cpl_gen.h). The script is built bottom-up, as pieces
 * of XML: ringing the subscriber, wrapped by time_of_day, wrapped by
 * call_screening. A piece needed in several places (voicemail, the
 * screening action, "continue with the other features") becomes a
 * subaction, defined before its first use, since a sub may only name an
 * earlier subaction; a sub costs no compiled node, so sharing is free.
 * An empty piece stands for default behaviour and is simply left out.
 */
#include "feature/cpl_gen.h"

#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feature/cpl_internal.h"
#include "sip/uri.h"

/* ---- a growing string ---------------------------------------------------- */

struct sb {
	char *s;
	size_t len, cap;
	bool oom;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = 0;
}

static void sb_puts(struct sb *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		b->oom = true; /* never with our formats: strings go through sb_attr */
	else
		sb_put(b, tmp, (size_t)n);
}

/* s as the value of a double-quoted XML attribute. The settings were
 * checked already; this is what makes an unchecked string harmless too:
 * markup characters become references, and control characters that XML
 * 1.0 does not allow are dropped. */
static void sb_attr(struct sb *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': sb_puts(b, "&amp;"); break;
		case '<': sb_puts(b, "&lt;"); break;
		case '>': sb_puts(b, "&gt;"); break;
		case '"': sb_puts(b, "&quot;"); break;
		case '\t': sb_puts(b, "&#9;"); break;
		case '\n': sb_puts(b, "&#10;"); break;
		case '\r': sb_puts(b, "&#13;"); break;
		default:
			if ((unsigned char)*s >= 0x20)
				sb_put(b, s, 1);
		}
	}
}

/* name="value" with a leading blank */
static void sb_kv(struct sb *b, const char *name, const char *value)
{
	sb_printf(b, " %s=\"", name);
	sb_attr(b, value);
	sb_puts(b, "\"");
}

static void sb_free(struct sb *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* ---- pieces -------------------------------------------------------------- */

struct piece {
	struct sb body;  /* empty: default behaviour */
	const char *id;  /* subaction id when shared */
	bool defined;
};

struct gen {
	const struct cpl_gen_in *in;
	struct cpl_gen_out *out;
	const struct feature_settings *f[FEATURE_KINDS];
	/* the voicemail feature's settings for its URI (screening's
	 * voicemail action), even when the feature itself is left out of a
	 * locked part */
	const struct feature_settings *vm_uri;
	struct sb subs; /* subaction definitions, in order of first use */
	char vm[FEATURE_TARGET_MAX * 2 + 16]; /* voicemail URI, "" when none */
};

static void note(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct gen *g, const char *fmt, ...)
{
	char *n = g->out->note;
	size_t len = strlen(n), cap = sizeof(g->out->note);
	if (len && len + 2 < cap) {
		strcpy(n + len, "; ");
		len += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n + len, cap - len, fmt, ap);
	va_end(ap);
}

/* Appends a use of p to dst: nothing when p is empty; the body itself when
 * !shared; else <sub ref/>, defining the subaction at its first use. */
static void use(struct gen *g, struct sb *dst, struct piece *p, bool shared)
{
	if (!p->body.len)
		return;
	if (!shared) {
		sb_put(dst, p->body.s, p->body.len);
		return;
	}
	if (!p->defined) {
		sb_printf(&g->subs, "<subaction id=\"%s\">", p->id);
		sb_put(&g->subs, p->body.s, p->body.len);
		sb_puts(&g->subs, "</subaction>\n");
		p->defined = true;
	}
	sb_printf(dst, "<sub ref=\"%s\"/>", p->id);
}

/* A target's URI: bare ones become sip:T@domain. */
static void target_uri(struct gen *g, const struct feature_target *t, char *buf, size_t cap)
{
	if (t->bare)
		snprintf(buf, cap, "sip:%s@%s", t->text, g->in->domain);
	else
		snprintf(buf, cap, "%s", t->text);
}

static void go_to(struct gen *g, struct sb *b, const struct feature_target *t)
{
	char uri[FEATURE_TARGET_MAX * 2 + 16];
	target_uri(g, t, uri, sizeof(uri));
	sb_puts(b, "<location");
	sb_kv(b, "url", uri);
	sb_puts(b, "><proxy/></location>");
}

/* ---- the called side ----------------------------------------------------- */

/* Ringing the subscriber, or forward_all: what happens to a call that
 * screening and time_of_day let through. */
static void build_ring(struct gen *g, struct piece *vm, struct piece *ring)
{
	const struct feature_settings *fa = g->f[FEATURE_FORWARD_ALL],
				     *fb = g->f[FEATURE_FORWARD_BUSY],
				     *fna = g->f[FEATURE_FORWARD_NO_ANSWER],
				     *v = g->f[FEATURE_VOICEMAIL];
	if (fa) {
		go_to(g, &ring->body, &fa->u.forward.target);
		if (fb || fna || v)
			note(g, "forward_all is active: forward_busy, forward_no_answer and "
				"voicemail do not apply");
		return;
	}
	bool vm_busy = !fb && v && v->u.voicemail.on_busy && g->vm[0];
	bool vm_na = !fna && v && v->u.voicemail.on_no_answer && g->vm[0];
	if (!fb && !fna && !vm_busy && !vm_na)
		return; /* ringing the subscriber is what happens without a script */
	struct sb *b = &ring->body;
	sb_puts(b, "<lookup source=\"registration\"><success><proxy");
	if (fna || vm_na)
		sb_printf(b, " timeout=\"%u\"",
			  fna ? fna->u.forward.ring_time : v->u.voicemail.ring_time);
	sb_puts(b, ">");
	if (fb || vm_busy) {
		sb_puts(b, "<busy>");
		if (fb)
			go_to(g, b, &fb->u.forward.target);
		else
			use(g, b, vm, true);
		sb_puts(b, "</busy>");
	}
	if (fna || vm_na) {
		sb_puts(b, "<noanswer>");
		if (fna)
			go_to(g, b, &fna->u.forward.target);
		else
			use(g, b, vm, true);
		sb_puts(b, "</noanswer>");
	}
	sb_puts(b, "</proxy></success></lookup>");
}

static void tod_time(struct sb *b, const struct feature_period *p)
{
	static const char days[][3] = {"SU", "MO", "TU", "WE", "TH", "FR", "SA"};
	int first = 0;
	while (!(p->days & (1u << first)))
		first++;
	unsigned len = p->end > p->start ? (unsigned)(p->end - p->start)
					 : (unsigned)(p->end + 1440 - p->start);
	/* dtstart: the first listed weekday of the week of Sunday 2 January
	 * 2000, so that dtstart is itself an occurrence of the rule */
	sb_printf(b, "<time dtstart=\"200001%02dT%02u%02u00\" duration=\"PT", 2 + first,
		  p->start / 60u, p->start % 60u);
	if (len / 60)
		sb_printf(b, "%uH", len / 60);
	if (len % 60)
		sb_printf(b, "%uM", len % 60);
	sb_puts(b, "\" freq=\"weekly\" byday=\"");
	bool comma = false;
	for (int k = 1; k <= 7; k++) /* MO..SA, then SU */
		if (p->days & (1u << (k % 7))) {
			sb_printf(b, "%s%s", comma ? "," : "", days[k % 7]);
			comma = true;
		}
	sb_puts(b, "\">");
}

/* time_of_day around next (the rest of the called side). */
static void build_tod(struct gen *g, struct piece *next, struct piece *out)
{
	const struct feature_settings *t = g->f[FEATURE_TIME_OF_DAY];
	struct piece target = {.id = "time-of-day"};
	go_to(g, &target.body, &t->u.tod.target);
	bool many = t->u.tod.n > 1;
	struct sb *b = &out->body;
	sb_puts(b, "<time-switch");
	sb_kv(b, "tzid", t->u.tod.tzid);
	sb_puts(b, ">");
	for (unsigned i = 0; i < t->u.tod.n; i++) {
		tod_time(b, &t->u.tod.periods[i]);
		if (t->u.tod.outside)
			use(g, b, next, many);
		else
			use(g, b, &target, many);
		sb_puts(b, "</time>");
	}
	struct sb other = {0};
	use(g, &other, t->u.tod.outside ? &target : next, false);
	if (other.len) {
		sb_puts(b, "<otherwise>");
		sb_put(b, other.s, other.len);
		sb_puts(b, "</otherwise>");
	}
	sb_puts(b, "</time-switch>");
	if (other.oom)
		b->oom = true;
	sb_free(&other);
	sb_free(&target.body);
}

/* Adds <address MATCH="v">then</address> unless v was added already to
 * this switch (seen holds "\0"-separated values). */
static void screen_case(struct sb *sw, struct sb *seen, const char *match, const char *v,
			const char *then)
{
	for (size_t o = 0; o < seen->len; o += strlen(seen->s + o) + 1)
		if (!strcmp(seen->s + o, v))
			return;
	sb_put(seen, v, strlen(v) + 1);
	sb_printf(sw, "<address %s=\"", match);
	sb_attr(sw, v);
	sb_puts(sw, "\">");
	sb_puts(sw, then);
	sb_puts(sw, "</address>");
}

/* One address-switch on the origin wrapping tail: cases (already written)
 * then otherwise -> tail. Replaces tail by the switch. */
static void wrap_switch(struct sb *tail, const char *subfield, struct sb *cases)
{
	if (!cases->len)
		return;
	struct sb sw = {0};
	sb_printf(&sw, "<address-switch field=\"origin\" subfield=\"%s\">", subfield);
	sb_put(&sw, cases->s, cases->len);
	if (tail->len) {
		sb_puts(&sw, "<otherwise>");
		sb_put(&sw, tail->s, tail->len);
		sb_puts(&sw, "</otherwise>");
	}
	sb_puts(&sw, "</address-switch>");
	if (sw.oom || cases->oom)
		tail->oom = true;
	sb_free(tail);
	*tail = sw;
}

/* call_screening around next: a switch on the origin's user part
 * (anonymous, numbers with and without '+'), one on its tel subfield
 * (numbers of tel: and user=phone URIs, separators ignored), one on its
 * host (domains first, anonymous.invalid, then each listed URI's host with
 * a switch on its users). Every match goes to the action. */
static void build_screening(struct gen *g, struct piece *vm, struct piece *next,
			    struct piece *out)
{
	const struct feature_settings *s = g->f[FEATURE_CALL_SCREENING];
	struct piece action = {.id = "screen"};
	switch (s->u.screening.action) {
	case SCREEN_BUSY: sb_puts(&action.body, "<reject status=\"busy\"/>"); break;
	case SCREEN_VOICEMAIL:
		if (vm->body.len) {
			use(g, &action.body, vm, true);
			break;
		}
		note(g, "call_screening: action voicemail without a voicemail URI, rejecting "
			"instead");
		/* fall through */
	default: sb_puts(&action.body, "<reject status=\"reject\"/>"); break;
	}
	struct sb ref = {0}, user = {0}, tel = {0}, host = {0}, seen = {0}, tail = {0};
	struct sb nextref = {0};
	use(g, &ref, &action, true);
	use(g, &nextref, next, true);
	const char *then = ref.s ? ref.s : "";
	const struct feature_screen_entry *e = s->u.screening.callers;
	unsigned n = s->u.screening.n;

	for (unsigned i = 0; i < n; i++) {
		char v[FEATURE_ENTRY_MAX + 2];
		if (e[i].kind == SCREEN_ANONYMOUS) {
			screen_case(&user, &seen, "is", "anonymous", then);
			screen_case(&user, &seen, "is", "Anonymous", then);
		} else if (e[i].kind == SCREEN_NUMBER) {
			snprintf(v, sizeof(v), "+%s", e[i].user);
			screen_case(&user, &seen, "is", v, then);
			screen_case(&user, &seen, "is", e[i].user, then);
		}
	}
	seen.len = 0;
	for (unsigned i = 0; i < n; i++)
		if (e[i].kind == SCREEN_NUMBER)
			screen_case(&tel, &seen, "is", e[i].user, then);
	seen.len = 0;
	for (unsigned i = 0; i < n; i++)
		if (e[i].kind == SCREEN_DOMAIN)
			screen_case(&host, &seen, "subdomain-of", e[i].host, then);
	for (unsigned i = 0; i < n; i++)
		if (e[i].kind == SCREEN_ANONYMOUS)
			screen_case(&host, &seen, "is", "anonymous.invalid", then);
	for (unsigned i = 0; i < n; i++) {
		if (e[i].kind != SCREEN_URI)
			continue;
		bool done = false;
		for (unsigned k = 0; k < i && !done; k++)
			done = e[k].kind == SCREEN_URI && !strcmp(e[k].host, e[i].host);
		if (done)
			continue; /* this host's users went into an earlier case */
		struct sb users = {0}, useen = {0}, inner = {0};
		for (unsigned k = i; k < n; k++)
			if (e[k].kind == SCREEN_URI && !strcmp(e[k].host, e[i].host))
				screen_case(&users, &useen, "is", e[k].user, then);
		sb_put(&inner, nextref.s ? nextref.s : "", nextref.len);
		wrap_switch(&inner, "user", &users);
		/* a host already matched by a domain or anonymous.invalid case
		 * never gets here: screen_case skips it */
		struct sb hcase = {0};
		screen_case(&hcase, &seen, "is", e[i].host, inner.s ? inner.s : "");
		sb_put(&host, hcase.s ? hcase.s : "", hcase.len);
		if (users.oom || useen.oom || inner.oom || hcase.oom)
			host.oom = true;
		sb_free(&users);
		sb_free(&useen);
		sb_free(&inner);
		sb_free(&hcase);
	}
	sb_put(&tail, nextref.s ? nextref.s : "", nextref.len);
	wrap_switch(&tail, "host", &host);
	wrap_switch(&tail, "tel", &tel);
	wrap_switch(&tail, "user", &user);
	if (n) {
		sb_put(&out->body, tail.s ? tail.s : "", tail.len);
	} else {
		/* nobody listed: nothing to screen */
		use(g, &out->body, next, false);
	}
	if (ref.oom || user.oom || tel.oom || host.oom || seen.oom || tail.oom || nextref.oom)
		out->body.oom = true;
	sb_free(&ref);
	sb_free(&user);
	sb_free(&tel);
	sb_free(&host);
	sb_free(&seen);
	sb_free(&tail);
	sb_free(&nextref);
	sb_free(&action.body);
}

static void build_called(struct gen *g, struct sb *top)
{
	struct piece vm = {.id = "voicemail"}, ring = {.id = "ring"}, tod = {.id = "next"};
	const struct feature_settings *v = g->f[FEATURE_VOICEMAIL];
	if (g->vm_uri && g->vm_uri->u.voicemail.has_uri)
		target_uri(g, &g->vm_uri->u.voicemail.uri, g->vm, sizeof(g->vm));
	else if (g->in->voicemail_uri)
		snprintf(g->vm, sizeof(g->vm), "%s", g->in->voicemail_uri);
	if (v && !g->vm[0])
		note(g, "voicemail: no uri and no default voicemail URI, skipped");
	if (g->vm[0]) {
		sb_puts(&vm.body, "<location");
		sb_kv(&vm.body, "url", g->vm);
		sb_puts(&vm.body, "><proxy/></location>");
	}

	build_ring(g, &vm, &ring);
	struct piece *next = &ring;
	if (g->f[FEATURE_TIME_OF_DAY]) {
		build_tod(g, &ring, &tod);
		next = &tod;
	}
	if (g->f[FEATURE_CALL_SCREENING]) {
		struct piece scr = {0};
		build_screening(g, &vm, next, &scr);
		use(g, top, &scr, false);
		sb_free(&scr.body);
	} else {
		use(g, top, next, false);
	}
	if (vm.body.oom || ring.body.oom || tod.body.oom)
		top->oom = true;
	sb_free(&vm.body);
	sb_free(&ring.body);
	sb_free(&tod.body);
}

/* ---- the calling side ---------------------------------------------------- */

/* call_blocking: a prefix match on the destination's telephone digits
 * (tel: URIs and user=phone SIP URIs; '+' and separators ignored). */
static void build_calling(struct gen *g, struct sb *top)
{
	const struct feature_settings *s = g->f[FEATURE_CALL_BLOCKING];
	if (!s || !s->u.blocking.n)
		return;
	struct piece block = {.id = "block"};
	sb_puts(&block.body, "<reject status=\"reject\"");
	sb_kv(&block.body, "reason", s->u.blocking.reason);
	sb_puts(&block.body, "/>");
	struct sb ref = {0}, cases = {0}, seen = {0};
	use(g, &ref, &block, s->u.blocking.n > 1);
	for (unsigned i = 0; i < s->u.blocking.n; i++) {
		const char *p = s->u.blocking.prefixes[i];
		screen_case(&cases, &seen, "subdomain-of", p[0] == '+' ? p + 1 : p,
			    ref.s ? ref.s : "");
	}
	sb_puts(top, "<address-switch field=\"destination\" subfield=\"tel\">");
	sb_put(top, cases.s ? cases.s : "", cases.len);
	sb_puts(top, "</address-switch>");
	if (ref.oom || cases.oom || seen.oom || block.body.oom)
		top->oom = true;
	sb_free(&ref);
	sb_free(&cases);
	sb_free(&seen);
	sb_free(&block.body);
}

/* ---- the whole ----------------------------------------------------------- */

static int copy_out(const char *text, size_t len, char *buf, size_t cap, struct cpl_gen_out *out,
		    char *err, size_t errlen)
{
	out->len = len;
	if (!buf || len + 1 > cap) {
		snprintf(err, errlen, "the script needs %zu bytes, the buffer has %zu", len + 1, cap);
		if (buf && cap)
			buf[0] = 0;
		return -1;
	}
	memcpy(buf, text, len);
	buf[len] = 0;
	return 0;
}

int cpl_gen(const struct cpl_gen_in *in, char *buf, size_t cap, struct cpl_gen_out *out,
	    char *err, size_t errlen)
{
	char dummy[1];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	memset(out, 0, sizeof(*out));
	if (buf && cap)
		buf[0] = 0;
	if (in->side != FEATURE_CALLING && in->side != FEATURE_CALLED) {
		snprintf(err, errlen, "side must be calling or called");
		return -1;
	}
	struct gen g = {.in = in, .out = out};
	bool locked[FEATURE_KINDS] = {0};
	for (unsigned i = 0; i < in->n; i++) {
		const struct feature_settings *f = in->features[i];
		if (!f || (unsigned)f->kind >= FEATURE_KINDS) {
			snprintf(err, errlen, "feature %u is not a parsed feature", i);
			return -1;
		}
		if (!(feature_kinds[f->kind].sides & in->side))
			continue;
		if (g.f[f->kind]) {
			snprintf(err, errlen, "%s is listed twice", feature_kinds[f->kind].name);
			return -1;
		}
		g.f[f->kind] = f;
		locked[f->kind] = in->locked && in->locked[i];
	}
	g.vm_uri = g.f[FEATURE_VOICEMAIL];
	if (in->part != CPL_GEN_HOP && in->part != CPL_GEN_LOCKED) {
		snprintf(err, errlen, "part must be the hop's script or its locked part");
		return -1;
	}
	out->caller_id_blocking = g.f[FEATURE_CALLER_ID_BLOCKING] != NULL;
	out->call_return = g.f[FEATURE_CALL_RETURN] != NULL;

	/* Bare targets need the domain, and every URI made from it must parse. */
	char probe[FEATURE_TARGET_MAX * 2 + 16];
	if (in->domain) {
		struct feature_target pt;
		char msg[200];
		snprintf(probe, sizeof(probe), "sip:x@%s", in->domain);
		if (strlen(in->domain) > FEATURE_TARGET_MAX - 8 ||
		    feature_target_parse("domain", probe, &pt, msg, sizeof(msg))) {
			snprintf(err, errlen, "the subscriber's domain does not make a valid SIP URI");
			return -1;
		}
	}
	for (int k = 0; k < FEATURE_KINDS; k++) {
		const struct feature_settings *f = g.f[k];
		const struct feature_target *t =
			!f ? NULL
			: k == FEATURE_FORWARD_ALL || k == FEATURE_FORWARD_BUSY ||
					k == FEATURE_FORWARD_NO_ANSWER
				? &f->u.forward.target
			: k == FEATURE_TIME_OF_DAY			  ? &f->u.tod.target
			: k == FEATURE_VOICEMAIL && f->u.voicemail.has_uri ? &f->u.voicemail.uri
									   : NULL;
		if (t && t->bare && !in->domain) {
			snprintf(err, errlen, "%s: a bare target needs the subscriber's domain",
				 feature_kinds[k].name);
			return -1;
		}
	}
	if (in->side == FEATURE_CALLED && in->voicemail_uri) {
		struct feature_target vt;
		char msg[200];
		if (feature_target_parse("voicemail URI", in->voicemail_uri, &vt, msg, sizeof(msg)) ||
		    vt.bare) {
			snprintf(err, errlen, "the default voicemail URI is not a sip:, sips: or tel: "
					      "URI");
			return -1;
		}
	}

	/* The subscriber's own script replaces what the subscriber set on its
	 * side; what the carrier locked runs before it, as the locked part. */
	const struct feature_settings *raw = g.f[FEATURE_CPL];
	bool raw_side = raw && (in->side == FEATURE_CALLED ? raw->u.cpl.has_incoming
							   : raw->u.cpl.has_outgoing);
	if (in->part == CPL_GEN_LOCKED) {
		if (!raw_side)
			return 0; /* the hop's script carries the locked features */
		for (int k = 0; k < FEATURE_KINDS; k++)
			if (k == FEATURE_CPL || !locked[k])
				g.f[k] = NULL;
	} else if (raw_side) {
		for (int k = 0; k < FEATURE_KINDS; k++)
			if (g.f[k] && k != FEATURE_CPL && !feature_kinds[k].native)
				note(&g, locked[k] ? "%s locked: runs before the subscriber's cpl script"
						   : "%s ignored: the subscriber's cpl script is used",
				     feature_kinds[k].name);
		out->raw = true;
		return copy_out(raw->u.cpl.script, raw->u.cpl.len, buf, cap, out, err, errlen);
	}

	struct sb top = {0};
	if (in->side == FEATURE_CALLED)
		build_called(&g, &top);
	else
		build_calling(&g, &top);
	int rc = 0;
	if (top.oom || g.subs.oom) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	} else if (top.len) {
		struct sb doc = {0};
		sb_puts(&doc, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			      "<cpl xmlns=\"urn:ietf:params:xml:ns:cpl\">\n");
		sb_put(&doc, g.subs.s ? g.subs.s : "", g.subs.len);
		sb_puts(&doc, in->side == FEATURE_CALLED ? "<incoming>" : "<outgoing>");
		sb_put(&doc, top.s, top.len);
		sb_puts(&doc, in->side == FEATURE_CALLED ? "</incoming>\n</cpl>\n"
							 : "</outgoing>\n</cpl>\n");
		if (doc.oom) {
			snprintf(err, errlen, "out of memory");
			rc = -1;
		} else if (doc.len > CPL_DEFAULT_MAX_BYTES) {
			/* the settings' limits are chosen so that this does not
			 * happen; the fuzz target checks it */
			snprintf(err, errlen, "the script would be %zu bytes, more than %d", doc.len,
				 CPL_DEFAULT_MAX_BYTES);
			rc = -1;
		} else {
			rc = copy_out(doc.s, doc.len, buf, cap, out, err, errlen);
		}
		sb_free(&doc);
	}
	sb_free(&top);
	sb_free(&g.subs);
	return rc;
}

bool cpl_gen_phone_destination(const struct sip_uri *uri, char *buf, size_t cap)
{
	sip_str v;
	if ((uri->scheme != SIP_URI_SIP && uri->scheme != SIP_URI_SIPS) || !uri->user.len ||
	    uri->headers.len || sip_uri_param(uri, "user", &v))
		return false;
	bool digit = false;
	for (size_t i = 0; i < uri->user.len; i++) {
		char ch = uri->user.s[i];
		if (ch >= '0' && ch <= '9')
			digit = true;
		else if (!strchr("-.()", ch) && !(ch == '+' && i == 0))
			return false;
	}
	if (!digit || uri->raw.len + sizeof(";user=phone") > cap)
		return false;
	memcpy(buf, uri->raw.s, uri->raw.len);
	memcpy(buf + uri->raw.len, ";user=phone", sizeof(";user=phone"));
	return true;
}

void cpl_footprint(const struct cpl_script *s, struct cpl_footprint *fp)
{
	memset(fp, 0, sizeof(*fp));
	fp->nodes = s->nnodes;
	fp->cases = s->ncases;
	fp->times = s->ntimes;
	fp->pool = s->pool_len;
	fp->node_size = sizeof(*s->nodes);
	fp->case_size = sizeof(*s->cases);
	fp->time_size = sizeof(*s->times);
	fp->used = sizeof(*s) + s->nnodes * fp->node_size + s->ncases * fp->case_size +
		   s->ntimes * fp->time_size + s->pool_len;
	/* cpl_compile packs a script into one block; a script still being
	 * built has an allocation per array */
	fp->allocated = malloc_usable_size((void *)s);
	if (!s->packed)
		fp->allocated += malloc_usable_size(s->nodes) + malloc_usable_size(s->cases) +
				 malloc_usable_size(s->times) + malloc_usable_size(s->pool);
}
