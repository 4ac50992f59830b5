/*
 * CPL scripts: from untrusted XML to the compiled node array
 * (cpl_internal.h). The order of checks is chosen so that cheap, specific
 * refusals come first and say exactly what is wrong:
 *
 *   1. libxml2 parses without network access, without loading or
 *      expanding anything (no XML_PARSE_NOENT / DTDLOAD); a document with
 *      any DTD is refused outright.
 *   2. A walk checks nesting depth, element count and namespaces: RFC 3880
 *      section 11 says a server MUST refuse a script using an extension it
 *      does not know, and the schema alone would not catch fig29 (any
 *      attribute is allowed on "address").
 *   3. The RFC's schema (Appendix C, built in) validates structure and
 *      attribute syntax.
 *   4. The compiler checks the rest: subaction references go backwards
 *      only (section 8: no recursion), limits, what we do not support yet.
 *
 * libxml2 is used because it is the maintained parser and XSD validator on
 * every target; its global state is touched only once (the schema is
 * parsed on first use, under pthread_once).
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "feature/cpl_internal.h"

#define CPL_NS "urn:ietf:params:xml:ns:cpl"
#define XSI_NS "http://www.w3.org/2001/XMLSchema-instance"

/* ---- errors ------------------------------------------------------------ */

/* Writes "line N: /cpl/a/b: message" (the path from the root by local
 * names) into err. */
static void node_err(char *err, size_t errlen, const xmlNode *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void node_err(char *err, size_t errlen, const xmlNode *n, const char *fmt, ...)
{
	char path[256] = "";
	const xmlNode *chain[64];
	int depth = 0;
	for (const xmlNode *p = n; p && p->type == XML_ELEMENT_NODE && depth < 64; p = p->parent)
		chain[depth++] = p;
	size_t o = 0;
	if (depth == 64)
		o = (size_t)snprintf(path, sizeof(path), "...");
	for (int i = depth - 1; i >= 0 && o < sizeof(path); i--)
		o += (size_t)snprintf(path + o, sizeof(path) - o, "/%s", (const char *)chain[i]->name);
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "line %ld: %s: %s", n ? xmlGetLineNo(n) : 0L, path, msg);
}

/* ---- the built-in schema --------------------------------------------- */

static pthread_once_t schema_once = PTHREAD_ONCE_INIT;
static xmlSchemaPtr schema;

static void silent(void *ctx, const char *fmt, ...) {}

/* Once per process, before any parsing: libxml2 wants xmlInitParser
 * called before threads use it, and the schema is parsed only once and
 * then shared read-only by every validation. */
static void schema_load(void)
{
	xmlInitParser();
	xmlSchemaParserCtxtPtr pc =
		xmlSchemaNewMemParserCtxt(cpl_xsd, (int)(cpl_xsd_end - cpl_xsd));
	if (!pc)
		return;
	xmlSchemaSetParserErrors(pc, silent, silent, NULL);
	schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
}

struct verr {
	char *err;
	size_t errlen;
	bool set;
};

/* Keeps the first validation error, with its line, in one line. */
static void schema_error(void *arg, xmlErrorPtr e)
{
	struct verr *v = arg;
	if (v->set || !e)
		return;
	v->set = true;
	char msg[256];
	snprintf(msg, sizeof(msg), "%s", e->message ? e->message : "invalid");
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	size_t n = strlen(msg);
	while (n && msg[n - 1] == ' ')
		msg[--n] = 0;
	snprintf(v->err, v->errlen, "line %d: does not conform to the RFC 3880 schema: %s",
		 e->line, msg);
}

/* ---- the compiler's state ------------------------------------------- */

struct comp {
	struct cpl_limits lim;
	struct cpl_script *s;
	unsigned cap_nodes, cap_cases, cap_times;
	size_t cap_pool;
	unsigned nlocations;
	/* subactions defined so far, by id */
	const xmlChar **sub_ids;
	int32_t *sub_entry;
	unsigned nsubs;
	xmlNode *root;
	char *err;
	size_t errlen;
};

static int grow(void **p, unsigned *cap, unsigned need, size_t size)
{
	if (need <= *cap)
		return 0;
	unsigned n = *cap ? *cap * 2 : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, (size_t)n * size);
	if (!q)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

/* Interns a string; returns its pool offset (0 for NULL), or UINT32_MAX
 * when memory runs out. */
static uint32_t intern(struct comp *c, const char *str)
{
	if (!str)
		return 0;
	struct cpl_script *s = c->s;
	size_t len = strlen(str);
	for (size_t off = 1; off < s->pool_len;) {
		size_t l = strlen(s->pool + off);
		if (l == len && !memcmp(s->pool + off, str, len))
			return (uint32_t)off;
		off += l + 1;
	}
	if (s->pool_len + len + 1 > c->cap_pool) {
		size_t n = c->cap_pool ? c->cap_pool : 256;
		while (n < s->pool_len + len + 1)
			n *= 2;
		char *p = realloc(s->pool, n);
		if (!p)
			return UINT32_MAX;
		s->pool = p;
		c->cap_pool = n;
	}
	uint32_t off = (uint32_t)s->pool_len;
	memcpy(s->pool + off, str, len + 1);
	s->pool_len += len + 1;
	return off;
}

static const char *attr(const xmlNode *n, const char *name)
{
	for (const xmlAttr *a = n->properties; a; a = a->next)
		if (!a->ns && !strcmp((const char *)a->name, name) && a->children &&
		    a->children->content)
			return (const char *)a->children->content;
	for (const xmlAttr *a = n->properties; a; a = a->next)
		if (!a->ns && !strcmp((const char *)a->name, name))
			return "";
	return NULL;
}

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

static xmlNode *first_element(xmlNode *n)
{
	for (xmlNode *k = n ? n->children : NULL; k; k = k->next)
		if (k->type == XML_ELEMENT_NODE)
			return k;
	return NULL;
}

/* ---- step 2: depth, size, namespaces ---------------------------------- */

static int prewalk(struct comp *c, xmlNode *n, unsigned depth, unsigned *count)
{
	if (depth > c->lim.max_depth) {
		node_err(c->err, c->errlen, n, "nesting deeper than %u elements", c->lim.max_depth);
		return -1;
	}
	if (++*count > c->lim.max_nodes) {
		node_err(c->err, c->errlen, n, "more than %u elements", c->lim.max_nodes);
		return -1;
	}
	if (!n->ns || !n->ns->href || strcmp((const char *)n->ns->href, CPL_NS)) {
		const char *href = n->ns && n->ns->href ? (const char *)n->ns->href : "none";
		const char *prefix = n->ns && n->ns->prefix ? (const char *)n->ns->prefix : NULL;
		node_err(c->err, c->errlen, n,
			 "extension element %s%s%s (namespace %s) is not supported (RFC 3880 "
			 "section 11: unknown extensions are refused)",
			 prefix ? prefix : "", prefix ? ":" : "", (const char *)n->name, href);
		return -1;
	}
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		if (!a->ns)
			continue;
		const char *href = (const char *)a->ns->href;
		if (href && !strcmp(href, XSI_NS) && !strcmp((const char *)a->name, "schemaLocation"))
			continue;
		node_err(c->err, c->errlen, n,
			 "extension attribute %s:%s (namespace %s) is not supported (RFC 3880 "
			 "section 11: unknown extensions are refused)",
			 a->ns->prefix ? (const char *)a->ns->prefix : "", (const char *)a->name,
			 href ? href : "");
		return -1;
	}
	for (xmlNode *k = n->children; k; k = k->next) {
		if (k->type == XML_ELEMENT_NODE) {
			if (prewalk(c, k, depth + 1, count))
				return -1;
		} else if (k->type == XML_ENTITY_REF_NODE || k->type == XML_ENTITY_NODE) {
			node_err(c->err, c->errlen, n, "entity references are not allowed");
			return -1;
		}
	}
	return 0;
}

/* ---- step 4: compile -------------------------------------------------- */

static int32_t compile_node(struct comp *c, xmlNode *n);

static int new_node(struct comp *c, xmlNode *n, uint8_t op)
{
	struct cpl_script *s = c->s;
	if (s->nnodes >= c->lim.max_nodes) {
		node_err(c->err, c->errlen, n, "more than %u nodes", c->lim.max_nodes);
		return -1;
	}
	if (grow((void **)&s->nodes, &c->cap_nodes, s->nnodes + 1, sizeof(*s->nodes))) {
		node_err(c->err, c->errlen, n, "out of memory");
		return -1;
	}
	struct cpl_node *d = &s->nodes[s->nnodes];
	memset(d, 0, sizeof(*d));
	d->op = op;
	d->line = (uint32_t)xmlGetLineNo(n);
	for (int i = 0; i < 5; i++)
		d->out[i] = CPL_NONE;
	return (int)s->nnodes++;
}

/* The node inside an output element (busy, success, address, ...), or
 * CPL_NONE when it is empty. -2 on error. */
static int32_t compile_output(struct comp *c, xmlNode *out)
{
	xmlNode *k = first_element(out);
	return k ? compile_node(c, k) : CPL_NONE;
}

static int set_str(struct comp *c, xmlNode *n, uint32_t *dst, const char *v)
{
	uint32_t off = intern(c, v);
	if (off == UINT32_MAX) {
		node_err(c->err, c->errlen, n, "out of memory");
		return -1;
	}
	*dst = off;
	return 0;
}

static int lookup_name(const char *const *names, const char *v)
{
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], v))
			return i;
	return -1;
}

static int priority_level(const char *v)
{
	static const char *const p[] = {"non-urgent", "normal", "urgent", "emergency", NULL};
	for (int i = 0; p[i]; i++)
		if (!strcasecmp(p[i], v))
			return i;
	return -1;
}

static const char *time_attr(void *arg, const char *name)
{
	return attr(arg, name);
}

/* Switches: the outputs in order, each a case. */
static int compile_switch(struct comp *c, xmlNode *n, int idx)
{
	struct cpl_script *s = c->s;
	uint8_t op = s->nodes[idx].op;
	/* cases are stored contiguously: count them first, then fill, since
	 * compiling an output's node may add cases of inner switches */
	unsigned ncase = 0;
	for (xmlNode *k = n->children; k; k = k->next)
		ncase += k->type == XML_ELEMENT_NODE;
	if (grow((void **)&s->cases, &c->cap_cases, s->ncases + ncase, sizeof(*s->cases))) {
		node_err(c->err, c->errlen, n, "out of memory");
		return -1;
	}
	unsigned first = s->ncases;
	s->ncases += ncase;
	s->nodes[idx].cases = first;
	s->nodes[idx].ncases = ncase;
	unsigned i = first;
	for (xmlNode *k = n->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		struct cpl_case cs = {.next = CPL_NONE, .prio = -1};
		const char *v;
		if (is(k, "otherwise")) {
			cs.match = M_OTHERWISE;
		} else if (is(k, "not-present")) {
			cs.match = M_NOT_PRESENT;
		} else if (op == OP_ADDRESS_SWITCH || op == OP_STRING_SWITCH) {
			if ((v = attr(k, "is")))
				cs.match = M_IS;
			else if ((v = attr(k, "contains")))
				cs.match = M_CONTAINS;
			else if ((v = attr(k, "subdomain-of")))
				cs.match = M_SUBDOMAIN_OF;
			else {
				node_err(c->err, c->errlen, k, "needs is, contains or subdomain-of");
				return -1;
			}
			uint8_t sf = s->nodes[idx].subfield;
			if (op == OP_ADDRESS_SWITCH && cs.match == M_CONTAINS && sf != SF_DISPLAY) {
				node_err(c->err, c->errlen, k, "contains applies to subfield display only");
				return -1;
			}
			if (op == OP_ADDRESS_SWITCH && cs.match == M_SUBDOMAIN_OF && sf != SF_HOST &&
			    sf != SF_TEL) {
				node_err(c->err, c->errlen, k,
					 "subdomain-of applies to subfields host and tel only");
				return -1;
			}
			if (op == OP_STRING_SWITCH && cs.match == M_SUBDOMAIN_OF) {
				node_err(c->err, c->errlen, k, "string has no subdomain-of");
				return -1;
			}
			if (set_str(c, k, &cs.str, v))
				return -1;
		} else if (op == OP_LANGUAGE_SWITCH) {
			if (!(v = attr(k, "matches"))) {
				node_err(c->err, c->errlen, k, "needs matches");
				return -1;
			}
			cs.match = M_MATCHES;
			if (set_str(c, k, &cs.str, v))
				return -1;
		} else if (op == OP_PRIORITY_SWITCH) {
			if ((v = attr(k, "less")))
				cs.match = M_LESS;
			else if ((v = attr(k, "greater")))
				cs.match = M_GREATER;
			else if ((v = attr(k, "equal")))
				cs.match = M_EQUAL;
			else {
				node_err(c->err, c->errlen, k, "needs less, greater or equal");
				return -1;
			}
			cs.prio = (int8_t)priority_level(v);
			if (cs.prio < 0 && cs.match != M_EQUAL) {
				node_err(c->err, c->errlen, k, "unknown priority \"%s\"", v);
				return -1;
			}
			if (set_str(c, k, &cs.str, v))
				return -1;
		} else if (op == OP_TIME_SWITCH) {
			struct cpl_time t;
			char msg[200];
			if (cpl_time_parse(&t, time_attr, k, msg, sizeof(msg)) ||
			    cpl_time_prepare(&t, cpl_str(s, s->nodes[idx].s1), msg, sizeof(msg))) {
				node_err(c->err, c->errlen, k, "%s", msg);
				return -1;
			}
			if (grow((void **)&s->times, &c->cap_times, s->ntimes + 1, sizeof(t))) {
				node_err(c->err, c->errlen, n, "out of memory");
				return -1;
			}
			cs.match = M_TIME;
			cs.time = s->ntimes;
			s->times[s->ntimes++] = t;
		}
		int32_t next = compile_output(c, k);
		if (next < CPL_NONE)
			return -1;
		cs.next = next;
		s->cases[i++] = cs;
	}
	return 0;
}

/* Proxy and lookup: named outputs into out[]. */
static int compile_outputs(struct comp *c, xmlNode *n, int idx, const char *const *names)
{
	for (xmlNode *k = n->children; k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE)
			continue;
		int o = lookup_name(names, (const char *)k->name);
		if (o < 0) {
			node_err(c->err, c->errlen, k, "unexpected output");
			return -1;
		}
		int32_t next = compile_output(c, k);
		if (next < CPL_NONE)
			return -1;
		c->s->nodes[idx].out[o] = next;
		c->s->nodes[idx].present |= (uint8_t)(1u << o);
	}
	return 0;
}

static int32_t compile_sub(struct comp *c, xmlNode *n)
{
	const char *ref = attr(n, "ref");
	for (unsigned i = 0; ref && i < c->nsubs; i++)
		if (!strcmp((const char *)c->sub_ids[i], ref))
			return c->sub_entry[i];
	/* Not defined yet: is it the current one or a later one? */
	for (xmlNode *k = first_element(c->root); k; k = k->next) {
		if (!is(k, "subaction"))
			continue;
		const char *id = attr(k, "id");
		if (ref && id && !strcmp(id, ref)) {
			node_err(c->err, c->errlen, n,
				 "sub ref=\"%s\" refers to its own or a later subaction: recursion is "
				 "forbidden (RFC 3880 section 8)",
				 ref);
			return -2;
		}
	}
	node_err(c->err, c->errlen, n, "sub ref=\"%s\": no such subaction", ref ? ref : "");
	return -2;
}

static int32_t compile_node(struct comp *c, xmlNode *n)
{
	static const char *const af[] = {"origin", "destination", "original-destination", NULL};
	static const char *const sfn[] = {"subject", "organization", "user-agent", "display", NULL};
	static const char *const subf[] = {"",     "address-type", "user",    "host",
					   "port", "tel",          "display", "password", NULL};
	static const char *const proxy_out[] = {"busy", "noanswer", "redirection", "failure",
						"default", NULL};
	static const char *const lookup_out[] = {"success", "notfound", "failure", NULL};
	static const char *const orderings[] = {"parallel", "sequential", "first-only", NULL};
	struct cpl_script *s;
	const char *v;
	int idx;

	if (is(n, "sub"))
		return compile_sub(c, n);

	if (is(n, "address-switch")) {
		if ((idx = new_node(c, n, OP_ADDRESS_SWITCH)) < 0)
			return -2;
		s = c->s;
		v = attr(n, "field");
		int f = v ? lookup_name(af, v) : -1;
		if (f < 0) {
			node_err(c->err, c->errlen, n, "unknown field \"%s\"", v ? v : "");
			return -2;
		}
		s->nodes[idx].field = (uint8_t)(F_ORIGIN + f);
		v = attr(n, "subfield");
		int sf = v ? lookup_name(subf, v) : 0;
		if (sf <= 0 && v) {
			node_err(c->err, c->errlen, n, "unknown subfield \"%s\"", v);
			return -2;
		}
		s->nodes[idx].subfield = (uint8_t)sf;
		return compile_switch(c, n, idx) ? -2 : idx;
	}
	if (is(n, "string-switch")) {
		if ((idx = new_node(c, n, OP_STRING_SWITCH)) < 0)
			return -2;
		v = attr(n, "field");
		int f = v ? lookup_name(sfn, v) : -1;
		if (f < 0) {
			node_err(c->err, c->errlen, n, "unknown field \"%s\"", v ? v : "");
			return -2;
		}
		c->s->nodes[idx].field = (uint8_t)(F_SUBJECT + f);
		return compile_switch(c, n, idx) ? -2 : idx;
	}
	if (is(n, "language-switch") || is(n, "priority-switch")) {
		if ((idx = new_node(c, n, is(n, "language-switch") ? OP_LANGUAGE_SWITCH
								  : OP_PRIORITY_SWITCH)) < 0)
			return -2;
		return compile_switch(c, n, idx) ? -2 : idx;
	}
	if (is(n, "time-switch")) {
		if ((idx = new_node(c, n, OP_TIME_SWITCH)) < 0)
			return -2;
		const char *tzid = attr(n, "tzid"), *tzurl = attr(n, "tzurl");
		if (tzid) {
			if (!cpl_tz_known(tzid)) {
				node_err(c->err, c->errlen, n,
					 "time zone \"%s\" is not in the tz database", tzid);
				return -2;
			}
		} else if (tzurl) {
			node_err(c->err, c->errlen, n,
				 "tzurl without tzid is not supported yet (time zones come from the "
				 "system tz database)");
			return -2;
		}
		if (set_str(c, n, &c->s->nodes[idx].s1, tzid))
			return -2;
		return compile_switch(c, n, idx) ? -2 : idx;
	}
	if (is(n, "location")) {
		if ((idx = new_node(c, n, OP_LOCATION)) < 0)
			return -2;
		if (++c->nlocations > c->lim.max_locations) {
			node_err(c->err, c->errlen, n, "more than %u location nodes",
				 c->lim.max_locations);
			return -2;
		}
		const char *url = attr(n, "url");
		struct sip_uri u;
		struct sip_error e;
		if (!url || sip_uri_parse(&u, url, strlen(url), &e)) {
			node_err(c->err, c->errlen, n, "url \"%s\" is not a URI", url ? url : "");
			return -2;
		}
		if (set_str(c, n, &c->s->nodes[idx].s1, url))
			return -2;
		double prio = 1.0;
		if ((v = attr(n, "priority"))) {
			char *end;
			errno = 0;
			prio = strtod(v, &end);
			if (errno || end == v || *end || !(prio >= 0.0 && prio <= 1.0)) {
				node_err(c->err, c->errlen, n, "priority \"%s\" is not in 0.0..1.0", v);
				return -2;
			}
		}
		c->s->nodes[idx].num = (uint32_t)(prio * 1000.0 + 0.5);
		c->s->nodes[idx].clear = (v = attr(n, "clear")) && !strcmp(v, "yes");
		int32_t next = compile_output(c, n);
		if (next < CPL_NONE)
			return -2;
		c->s->nodes[idx].out[OUT_NEXT] = next;
		return idx;
	}
	if (is(n, "lookup")) {
		if ((idx = new_node(c, n, OP_LOOKUP)) < 0)
			return -2;
		if (set_str(c, n, &c->s->nodes[idx].s1, attr(n, "source")))
			return -2;
		unsigned long t = (v = attr(n, "timeout")) ? strtoul(v, NULL, 10) : 30;
		c->s->nodes[idx].num = t > 86400 ? 86400 : (uint32_t)t;
		c->s->nodes[idx].clear = (v = attr(n, "clear")) && !strcmp(v, "yes");
		return compile_outputs(c, n, idx, lookup_out) ? -2 : idx;
	}
	if (is(n, "remove-location")) {
		if ((idx = new_node(c, n, OP_REMOVE_LOCATION)) < 0)
			return -2;
		if (set_str(c, n, &c->s->nodes[idx].s1, attr(n, "location")))
			return -2;
		int32_t next = compile_output(c, n);
		if (next < CPL_NONE)
			return -2;
		c->s->nodes[idx].out[OUT_NEXT] = next;
		return idx;
	}
	if (is(n, "proxy")) {
		if ((idx = new_node(c, n, OP_PROXY)) < 0)
			return -2;
		struct cpl_node *d = &c->s->nodes[idx];
		d->timeout_given = (v = attr(n, "timeout")) != NULL;
		unsigned long t = v ? strtoul(v, NULL, 10) : 20;
		d->num = t > 86400 ? 86400 : (uint32_t)t;
		d->recurse = !((v = attr(n, "recurse")) && !strcmp(v, "no"));
		int o = (v = attr(n, "ordering")) ? lookup_name(orderings, v) : 0;
		if (o < 0) {
			node_err(c->err, c->errlen, n, "unknown ordering \"%s\"", v);
			return -2;
		}
		d->ordering = (uint8_t)o;
		return compile_outputs(c, n, idx, proxy_out) ? -2 : idx;
	}
	if (is(n, "redirect")) {
		if ((idx = new_node(c, n, OP_REDIRECT)) < 0)
			return -2;
		c->s->nodes[idx].permanent = (v = attr(n, "permanent")) && !strcmp(v, "yes");
		return idx;
	}
	if (is(n, "reject")) {
		if ((idx = new_node(c, n, OP_REJECT)) < 0)
			return -2;
		static const struct {
			const char *name;
			unsigned code;
		} st[] = {{"busy", 486}, {"notfound", 404}, {"reject", 603}, {"error", 500}};
		unsigned code = 0;
		v = attr(n, "status");
		for (size_t i = 0; v && i < sizeof(st) / sizeof(st[0]); i++)
			if (!strcmp(v, st[i].name))
				code = st[i].code;
		if (!code && v && strlen(v) == 3 && isdigit((unsigned char)v[0]) &&
		    isdigit((unsigned char)v[1]) && isdigit((unsigned char)v[2]))
			code = (unsigned)atoi(v);
		if (code < 400 || code > 699) {
			node_err(c->err, c->errlen, n,
				 "status \"%s\" is not busy, notfound, reject, error or 4xx-6xx",
				 v ? v : "");
			return -2;
		}
		c->s->nodes[idx].num = code;
		if (set_str(c, n, &c->s->nodes[idx].s2, attr(n, "reason")))
			return -2;
		return idx;
	}
	if (is(n, "mail")) {
		if ((idx = new_node(c, n, OP_MAIL)) < 0)
			return -2;
		v = attr(n, "url");
		if (!v || strncasecmp(v, "mailto:", 7)) {
			node_err(c->err, c->errlen, n, "url must be a mailto: URL");
			return -2;
		}
		if (set_str(c, n, &c->s->nodes[idx].s1, v))
			return -2;
		int32_t next = compile_output(c, n);
		if (next < CPL_NONE)
			return -2;
		c->s->nodes[idx].out[OUT_NEXT] = next;
		return idx;
	}
	if (is(n, "log")) {
		if ((idx = new_node(c, n, OP_LOG)) < 0)
			return -2;
		if (set_str(c, n, &c->s->nodes[idx].s1, attr(n, "name")) ||
		    set_str(c, n, &c->s->nodes[idx].s2, attr(n, "comment")))
			return -2;
		int32_t next = compile_output(c, n);
		if (next < CPL_NONE)
			return -2;
		c->s->nodes[idx].out[OUT_NEXT] = next;
		return idx;
	}
	node_err(c->err, c->errlen, n, "element %s is not supported", (const char *)n->name);
	return -2;
}

static int compile_top(struct comp *c, xmlNode *root)
{
	struct cpl_script *s = c->s;
	s->incoming = s->outgoing = CPL_NONE;
	for (xmlNode *k = first_element(root); k; k = k->next) {
		if (k->type != XML_ELEMENT_NODE || is(k, "ancillary"))
			continue;
		if (is(k, "subaction")) {
			const char *id = attr(k, "id");
			if (c->nsubs >= c->lim.max_subactions) {
				node_err(c->err, c->errlen, k, "more than %u subactions",
					 c->lim.max_subactions);
				return -1;
			}
			for (unsigned i = 0; i < c->nsubs; i++)
				if (id && !strcmp((const char *)c->sub_ids[i], id)) {
					node_err(c->err, c->errlen, k, "subaction id \"%s\" is not unique",
						 id);
					return -1;
				}
			int32_t entry = compile_output(c, k);
			if (entry < CPL_NONE)
				return -1;
			c->sub_ids[c->nsubs] = (const xmlChar *)(id ? id : "");
			c->sub_entry[c->nsubs++] = entry;
		} else if (is(k, "incoming") || is(k, "outgoing")) {
			if (is(k, "incoming") ? s->has_incoming : s->has_outgoing) {
				node_err(c->err, c->errlen, k, "a second %s action", (const char *)k->name);
				return -1;
			}
			int32_t entry = compile_output(c, k);
			if (entry < CPL_NONE)
				return -1;
			if (is(k, "incoming")) {
				s->incoming = entry;
				s->has_incoming = true;
			} else {
				s->outgoing = entry;
				s->has_outgoing = true;
			}
		} else {
			node_err(c->err, c->errlen, k, "unexpected element");
			return -1;
		}
	}
	return 0;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Moves a compiled script into one allocation of the exact size: the
 * compiler's arrays grow by doubling, and featured keeps a script per
 * subscriber. Frees s and returns the copy, or NULL (s untouched). */
static struct cpl_script *pack(struct cpl_script *s)
{
	size_t head = align8(sizeof(*s)), nodes = align8(s->nnodes * sizeof(*s->nodes)),
	       cases = align8(s->ncases * sizeof(*s->cases)),
	       times = align8(s->ntimes * sizeof(*s->times));
	char *block = malloc(head + nodes + cases + times + s->pool_len);
	if (!block)
		return NULL;
	struct cpl_script *p = (struct cpl_script *)(void *)block;
	*p = *s;
	p->packed = true;
	p->nodes = (struct cpl_node *)(void *)(block + head);
	p->cases = (struct cpl_case *)(void *)(block + head + nodes);
	p->times = (struct cpl_time *)(void *)(block + head + nodes + cases);
	p->pool = block + head + nodes + cases + times;
	if (s->nnodes)
		memcpy(p->nodes, s->nodes, s->nnodes * sizeof(*s->nodes));
	if (s->ncases)
		memcpy(p->cases, s->cases, s->ncases * sizeof(*s->cases));
	if (s->ntimes)
		memcpy(p->times, s->times, s->ntimes * sizeof(*s->times));
	memcpy(p->pool, s->pool, s->pool_len);
	cpl_free(s);
	return p;
}

struct cpl_script *cpl_compile(const char *xml, size_t len, const struct cpl_limits *lim,
			       char *err, size_t errlen)
{
	char dummy[1];
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = 0;
	struct comp c = {.err = err, .errlen = errlen};
	if (lim)
		c.lim = *lim;
	if (!c.lim.max_bytes)
		c.lim.max_bytes = CPL_DEFAULT_MAX_BYTES;
	if (!c.lim.max_nodes)
		c.lim.max_nodes = CPL_DEFAULT_MAX_NODES;
	if (!c.lim.max_depth)
		c.lim.max_depth = CPL_DEFAULT_MAX_DEPTH;
	if (!c.lim.max_locations || c.lim.max_locations > CPL_DEFAULT_MAX_LOCATIONS)
		c.lim.max_locations = CPL_DEFAULT_MAX_LOCATIONS;
	if (!c.lim.max_subactions)
		c.lim.max_subactions = CPL_DEFAULT_MAX_SUBACTIONS;
	if (!c.lim.max_steps)
		c.lim.max_steps = CPL_DEFAULT_MAX_STEPS;
	if (len > c.lim.max_bytes || len > INT32_MAX) {
		snprintf(err, errlen, "script of %zu bytes is larger than %zu", len, c.lim.max_bytes);
		return NULL;
	}

	pthread_once(&schema_once, schema_load);
	xmlParserCtxtPtr pc = xmlNewParserCtxt();
	if (!pc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	xmlDocPtr doc = xmlCtxtReadMemory(pc, xml, (int)len, "cpl", NULL,
					  XML_PARSE_NONET | XML_PARSE_NOERROR |
						  XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
	if (!doc) {
		xmlErrorPtr e = xmlCtxtGetLastError(pc);
		char msg[200];
		snprintf(msg, sizeof(msg), "%s", e && e->message ? e->message : "unreadable");
		msg[strcspn(msg, "\r\n")] = 0;
		snprintf(err, errlen, "line %d: not well-formed XML: %s", e ? e->line : 0, msg);
		xmlFreeParserCtxt(pc);
		return NULL;
	}
	xmlFreeParserCtxt(pc);

	struct cpl_script *s = NULL;
	xmlNode *root = xmlDocGetRootElement(doc);
	if (doc->intSubset || doc->extSubset) {
		snprintf(err, errlen, "line %ld: a DTD (<!DOCTYPE>) is not allowed in a CPL script",
			 doc->intSubset ? xmlGetLineNo((xmlNode *)doc->intSubset) : 1L);
		goto out;
	}
	if (!root || !is(root, "cpl")) {
		node_err(err, errlen, root, "the root element must be cpl");
		goto out;
	}
	unsigned count = 0;
	c.root = root;
	if (prewalk(&c, root, 1, &count))
		goto out;

	if (!schema) {
		snprintf(err, errlen, "the built-in CPL schema does not load");
		goto out;
	}
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
	if (!vc) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	struct verr v = {err, errlen, false};
	xmlSchemaSetValidStructuredErrors(vc, schema_error, &v);
	int rc = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
	if (rc != 0) {
		if (!v.set)
			snprintf(err, errlen, "does not conform to the RFC 3880 schema");
		goto out;
	}

	s = calloc(1, sizeof(*s));
	c.sub_ids = calloc(c.lim.max_subactions, sizeof(*c.sub_ids));
	c.sub_entry = calloc(c.lim.max_subactions, sizeof(*c.sub_entry));
	if (!s || !c.sub_ids || !c.sub_entry) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	c.s = s;
	s->max_locations = c.lim.max_locations;
	s->max_steps = c.lim.max_steps;
	/* offset 0 is reserved to mean "absent" */
	if (intern(&c, "") == UINT32_MAX)
		goto fail;
	if (compile_top(&c, root))
		goto fail;
	struct cpl_script *packed = pack(s);
	if (!packed)
		goto fail;
	s = packed;
	goto out;
fail:
	if (!err[0])
		snprintf(err, errlen, "out of memory");
	cpl_free(s);
	s = NULL;
out:
	free(c.sub_ids);
	free(c.sub_entry);
	xmlFreeDoc(doc);
	return s;
}

void cpl_free(struct cpl_script *s)
{
	if (!s)
		return;
	if (s->packed) {
		free(s);
		return;
	}
	free(s->nodes);
	free(s->cases);
	free(s->times);
	free(s->pool);
	free(s);
}

bool cpl_has_incoming(const struct cpl_script *s) { return s->has_incoming; }
bool cpl_has_outgoing(const struct cpl_script *s) { return s->has_outgoing; }
unsigned cpl_node_count(const struct cpl_script *s) { return s->nnodes; }
