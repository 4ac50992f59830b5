/*
 * The provisioning cache (see store.h).
 *
 * Everything lives in one snapshot: hash tables of domains, subscribers
 * (by id, by AOR key, by DID), the servers and groups, and the dial plans.
 * A full load builds a new snapshot from four pipelined SELECTs and swaps
 * it in when the last one has answered, so a lookup never sees half a
 * load; a failed full load is thrown away whole. A notification reloads
 * one row (or the servers, or one plan) into the current snapshot. All of
 * this rides one pgq connection, whose results come back in the order the
 * queries were sent: a row reload sent after a full load is applied after
 * its swap, one sent before is overwritten by it, never the other way.
 *
 * A subscriber is one allocation: the public struct, its hash keys (the
 * user part, each alias, each DID), its feature hops, its networks and its
 * strings. The store holds a million of them, most without aliases or
 * features, so the record is kept tight: a key finds its subscriber by its
 * index rather than a pointer, and a subscriber without features carries
 * two NULL pointers and two zero counts for them, nothing more.
 */
#include "store.h"
#include "regex_guard.h"
#include "store_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "idset.h"
#include "log.h"
#include "pgq.h"
#include "text.h"

#define RELOAD_RETRY_MS 2000  /* after a full load failed or a reload was refused */
#define BATCH_DELAY_MS	2     /* changed subscribers gather this long before their query */
#define SUBJECT_MAX	1024  /* longest dial-plan subject */
#define USER_MAX	256   /* longest user part looked up */

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

/* ---- a chained hash table of intrusive nodes ------------------------------- */

struct hnode {
	struct hnode *next;
	uint64_t hash;
};

struct htab {
	struct hnode **b;
	size_t nb, n;		/* nb: a power of two, or 0 */
};

static uint64_t hash_bytes(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	/* FNV-1a, then a final mix so that the low bits (the bucket) depend
	 * on every byte. */
	h ^= 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static uint64_t hash_id(int64_t id)
{
	return hash_bytes(0, &id, sizeof id);
}

static int ht_insert(struct htab *t, struct hnode *n, uint64_t hash, size_t *bytes)
{
	if (t->n >= t->nb) {
		size_t nb = t->nb ? t->nb * 2 : 16;
		struct hnode **b = calloc(nb, sizeof *b);
		if (!b)
			return -1;
		for (size_t i = 0; i < t->nb; i++) {
			for (struct hnode *x = t->b[i], *next; x; x = next) {
				next = x->next;
				x->next = b[x->hash & (nb - 1)];
				b[x->hash & (nb - 1)] = x;
			}
		}
		free(t->b);
		*bytes += (nb - t->nb) * sizeof *b;
		t->b = b;
		t->nb = nb;
	}
	n->hash = hash;
	n->next = t->b[hash & (t->nb - 1)];
	t->b[hash & (t->nb - 1)] = n;
	t->n++;
	return 0;
}

static void ht_remove(struct htab *t, struct hnode *n)
{
	if (!t->nb)
		return;
	for (struct hnode **pp = &t->b[n->hash & (t->nb - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			t->n--;
			return;
		}
	}
}

static struct hnode *ht_first(const struct htab *t, uint64_t hash)
{
	return t->nb ? t->b[hash & (t->nb - 1)] : NULL;
}

/* Walks the nodes of t whose hash is hv (the caller compares keys). */
#define HT_FOR(t, hv, x) \
	for (struct hnode *x = ht_first((t), (hv)); x; x = x->next) if (x->hash == (hv))

/* ---- records ------------------------------------------------------------------- */

struct dom_rec {
	struct store_domain pub;
	struct hnode by_id, by_name;
	size_t size;
};

/* A key that reaches a subscriber: its user part or an alias (in the aor
 * table, with the domain) or a DID without '+' (in the did table). idx is
 * its place in its subscriber's keys[], which leads back to the record. */
struct sub_key {
	struct hnode node;
	int64_t domain_id;
	const char *s;
	uint32_t len;
	uint16_t idx;
	bool did;
};

/* keys[]: the user part, then naliases aliases, then ndids DIDs. */
struct sub_rec {
	struct store_subscriber pub;
	struct hnode by_id;
	uint32_t size;
	uint16_t naliases, ndids;
	struct sub_key keys[];
};

static size_t sub_nkeys(const struct sub_rec *s)
{
	return 1u + s->naliases + s->ndids;
}

static struct sub_rec *key_sub(const struct sub_key *k)
{
	return container_of(k - k->idx, struct sub_rec, keys);
}

struct srv_rec {
	struct store_server pub;
	int family;		/* AF_INET, AF_INET6, or 0 for a host name */
	uint8_t addr[16];
};

struct group_rec {
	struct store_group pub;
	struct hnode by_id, by_name;
	const struct store_server **servers;	/* priority, then weight descending */
	size_t nservers;
};

/* Groups and servers: loaded and replaced together (they are few). */
struct platform {
	struct group_rec *groups;
	size_t ngroups;
	struct srv_rec *servers;
	size_t nservers;
	const struct store_server **order;	/* the groups' server lists, one after another */
	struct htab by_id, by_name;
	char *strings;
	size_t bytes;
};

struct plan_entry {
	regex_t re;
	int position;
	char *tmpl;
};

struct plan {
	struct hnode by_id, by_name;
	int64_t id;
	char *name;
	struct plan_entry *entries;
	size_t nentries;
	size_t bytes;
};

struct snap {
	struct htab dom_id, dom_name;
	struct htab sub_id, aor, did;
	struct htab plan_id, plan_name;
	struct platform *plat;
	size_t ndomains, nsubs, naliases, ndids, nentries;
	size_t bytes;	/* records and buckets */
};

/* A full load in progress. */
struct load {
	struct snap *snap;
	int left;		/* queries not answered yet */
	bool failed;
};

struct store {
	struct ev_loop *loop;
	struct pgq *q;
	struct store_hooks hooks;
	struct snap *cur;
	struct load *load;
	bool ready, load_again;
	struct ev_timer retry;
	/* Changed subscribers waiting for their batched reload. */
	struct idset pending;
	struct ev_timer flush;
	/* Taken from pending, ascending, sent STORE_BATCH_INFLIGHT batches
	 * at a time so the daemon's own queries never wait behind more. */
	int64_t *batch_ids;
	size_t nbatch_ids, batch_at;
	unsigned inflight;
	uint64_t run_subs;	/* reloaded since the store was last idle */
	size_t batch_max, pending_max;
	store_exec_fn exec;	/* pgq_exec, or a test's */
	void *exec_ctx;
	struct store_stats stats;
};

/* ---- statements ----------------------------------------------------------------- */

/* A subscriber's active features as "side:group_id" words in position
 * order (store_parse_hops reads them), to be grouped by subscriber. */
#define ACTIVE_FEATURES                                                                     \
	"SELECT f.subscriber_id, string_agg(k.side || ':' || f.group_id, ' ' "                \
	"ORDER BY k.position) n FROM subscriber_features f "                                  \
	"JOIN feature_kinds k ON k.name = f.feature "                                         \
	"WHERE f.admin_enabled AND f.user_enabled"

#define SUB_COLUMNS                                                                         \
	"s.id, s.domain_id, s.user_part, s.display_name, s.auth_kind, "                    \
	"coalesce(s.ha1_md5, ''), coalesce(s.ha1_sha256, ''), coalesce(s.ha1_sha512_256, ''), " \
	"coalesce(s.marshal_group_id, 0), s.enabled"

static const struct {
	const char *name, *sql;
	int nparams;
} statements[] = {
	{"store_domains", "SELECT id, name, realm, enabled FROM domains", 0},
	{"store_domain", "SELECT id, name, realm, enabled FROM domains WHERE id = $1", 1},
	/* The whole table joins pre-aggregated lists (hash joins); one row
	 * uses correlated subqueries, which its indexes answer at once. */
	{"store_subscribers",
	 "SELECT " SUB_COLUMNS ", coalesce(a.n, ''), coalesce(l.n, ''), coalesce(d.n, ''), "
	 "coalesce(f.n, '') "
	 "FROM subscribers s "
	 "LEFT JOIN (SELECT subscriber_id, string_agg(network::text, ' ') n "
	 "FROM subscriber_acl GROUP BY 1) a ON a.subscriber_id = s.id "
	 "LEFT JOIN (SELECT subscriber_id, string_agg(domain_id || ':' || user_part, ' ') n "
	 "FROM aliases GROUP BY 1) l ON l.subscriber_id = s.id "
	 "LEFT JOIN (SELECT subscriber_id, string_agg(number, ' ') n "
	 "FROM dids GROUP BY 1) d ON d.subscriber_id = s.id "
	 "LEFT JOIN (" ACTIVE_FEATURES " GROUP BY 1) f ON f.subscriber_id = s.id",
	 0},
	/* A batch of changed subscribers (store_pgq_notify coalesces them):
	 * the correlated subqueries of one row, per id of the array. */
	{"store_subscriber_batch",
	 "SELECT " SUB_COLUMNS ", "
	 "coalesce((SELECT string_agg(network::text, ' ') FROM subscriber_acl "
	 "WHERE subscriber_id = s.id), ''), "
	 "coalesce((SELECT string_agg(domain_id || ':' || user_part, ' ') FROM aliases "
	 "WHERE subscriber_id = s.id), ''), "
	 "coalesce((SELECT string_agg(number, ' ') FROM dids WHERE subscriber_id = s.id), ''), "
	 "coalesce((SELECT x.n FROM (" ACTIVE_FEATURES " AND f.subscriber_id = s.id GROUP BY 1) x), '') "
	 "FROM subscribers s WHERE s.id = ANY($1::bigint[]) ORDER BY s.id",
	 1},
	{"store_servers",
	 "SELECT g.id, g.name, g.kind, s.id, s.host, s.port, s.transport, s.priority, s.weight, "
	 "s.enabled, g.on_failure FROM server_groups g LEFT JOIN servers s ON s.group_id = g.id "
	 "ORDER BY g.id",
	 0},
	{"store_plans",
	 "SELECT p.id, p.name, coalesce(e.position, -1), coalesce(e.pattern, ''), "
	 "coalesce(e.contact_template, '') FROM dial_plans p "
	 "LEFT JOIN dial_plan_entries e ON e.dial_plan_id = p.id ORDER BY p.id, e.position, e.id",
	 0},
	{"store_plan",
	 "SELECT p.id, p.name, coalesce(e.position, -1), coalesce(e.pattern, ''), "
	 "coalesce(e.contact_template, '') FROM dial_plans p "
	 "LEFT JOIN dial_plan_entries e ON e.dial_plan_id = p.id WHERE p.id = $1 "
	 "ORDER BY e.position, e.id",
	 1},
};

/* ---- pure helpers (store_internal.h) ----------------------------------------------- */

/* RFC 3261 25.1 unreserved: ASCII alphanumerics and the marks. */
static bool is_unreserved(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("-_.!~*'()", c) != NULL);
}

long store_user_normalize(sip_str user, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < user.len; i++) {
		int c = (unsigned char)user.s[i];
		if (c == 0)
			return -1;
		if (c == '%' && i + 2 < user.len && hex_digit_value(user.s[i + 1]) >= 0 &&
		    hex_digit_value(user.s[i + 2]) >= 0) {
			int v = hex_digit_value(user.s[i + 1]) * 16 + hex_digit_value(user.s[i + 2]);
			if (is_unreserved(v)) {
				if (n + 1 >= cap)
					return -1;
				out[n++] = (char)v;
			} else {
				if (n + 3 >= cap)
					return -1;
				static const char hex[] = "0123456789ABCDEF";
				out[n++] = '%';
				out[n++] = hex[v >> 4];
				out[n++] = hex[v & 15];
			}
			i += 2;
			continue;
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = (char)c;
	}
	if (n >= cap)
		return -1;
	out[n] = '\0';
	return (long)n;
}

long store_template_expand(const char *tmpl, const char *subject, const regmatch_t *match,
			   size_t nmatch, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *p = tmpl; *p; p++) {
		const char *src = p;
		size_t len = 1;
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '9') {
			size_t g = (size_t)(p[1] - '0');
			p++;
			len = 0;
			if (g < nmatch && match[g].rm_so >= 0 && match[g].rm_eo >= match[g].rm_so) {
				src = subject + match[g].rm_so;
				len = (size_t)(match[g].rm_eo - match[g].rm_so);
			}
		} else if (p[0] == '\\' && p[1] == '\\') {
			p++;
		}
		if (n + len >= cap)
			return -1;
		memcpy(out + n, src, len);
		n += len;
	}
	if (n >= cap)
		return -1;
	out[n] = '\0';
	return (long)n;
}

int store_parse_hops(const char *features, int64_t *calling, size_t *ncalling, int64_t *called,
		     size_t *ncalled, size_t cap)
{
	int64_t last_calling = 0, last_called = 0;
	size_t nc = 0, nt = 0;

	for (const char *p = features; p && *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		size_t n = strcspn(p, " ");
		const char *colon = memchr(p, ':', n);
		bool c = false, t = false;
		if (colon && (size_t)(colon - p) == 7 && strncmp(p, "calling", 7) == 0)
			c = true;
		else if (colon && (size_t)(colon - p) == 6 && strncmp(p, "called", 6) == 0)
			t = true;
		else if (colon && (size_t)(colon - p) == 4 && strncmp(p, "both", 4) == 0)
			c = t = true;
		int64_t group = 0;
		if (c || t) {
			/* A positive decimal group id, the rest of the word. */
			const char *d = colon + 1, *e = p + n;
			if (d == e || e - d > 18)
				c = t = false;
			for (; d < e && (c || t); d++) {
				if (*d < '0' || *d > '9')
					c = t = false;
				else
					group = group * 10 + (*d - '0');
			}
			if (group <= 0)
				c = t = false;
		}
		p += n;
		if (c && group != last_calling) {
			if (calling && nc >= cap)
				return -1;
			if (calling)
				calling[nc] = group;
			nc++;
			last_calling = group;
		}
		if (t && group != last_called) {
			if (called && nt >= cap)
				return -1;
			if (called)
				called[nt] = group;
			nt++;
			last_called = group;
		}
	}
	*ncalling = nc;
	*ncalled = nt;
	return 0;
}

/* ---- the notification payload ------------------------------------------------- */

struct json {
	const char *p;
};

static void js_ws(struct json *j)
{
	while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
		j->p++;
}

/* A JSON string into out (cut at cap - 1; *cut set). \u escapes outside
 * ASCII are refused: no name of ours needs them. */
static int js_string(struct json *j, char *out, size_t cap, bool *cut)
{
	size_t n = 0;
	*cut = false;
	if (*j->p != '"')
		return -1;
	j->p++;
	for (;;) {
		int c = (unsigned char)*j->p++;
		if (c == '"')
			break;
		if (c < 0x20)
			return -1;	/* includes the NUL at the end */
		if (c == '\\') {
			c = (unsigned char)*j->p++;
			switch (c) {
			case '"': case '\\': case '/': break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'u': {
				int v = 0;
				for (int i = 0; i < 4; i++) {
					int d = hex_digit_value(*j->p);
					if (d < 0)
						return -1;
					v = v * 16 + d;
					j->p++;
				}
				if (v == 0 || v > 0x7f)
					return -1;
				c = v;
				break;
			}
			default:
				return -1;
			}
		}
		if (n + 1 < cap)
			out[n++] = (char)c;
		else
			*cut = true;
	}
	if (cap)
		out[n] = '\0';
	return 0;
}

/* A JSON integer (no fraction or exponent) within int64. */
static int js_int(struct json *j, int64_t *out)
{
	const char *s = j->p;
	bool neg = *s == '-';
	uint64_t v = 0;
	if (neg)
		s++;
	if (!isdigit((unsigned char)*s) || (s[0] == '0' && isdigit((unsigned char)s[1])))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (v > (UINT64_C(9223372036854775808) - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (*s == '.' || *s == 'e' || *s == 'E')
		return -1;
	if (!neg && v > INT64_MAX)
		return -1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	j->p = s;
	return 0;
}

static bool js_word(struct json *j, const char *w)
{
	size_t n = strlen(w);
	if (strncmp(j->p, w, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool ends_with_id(const char *k)
{
	size_t n = strlen(k);
	return n > 3 && strcmp(k + n - 3, "_id") == 0;
}

int store_parse_change(const char *payload, struct store_change *out)
{
	struct json j = {payload};
	bool have_table = false, have_op = false, have_id = false, cut;

	memset(out, 0, sizeof *out);
	if (!payload)
		return -1;
	js_ws(&j);
	if (*j.p++ != '{')
		return -1;
	js_ws(&j);
	if (*j.p == '}')
		return -1;
	for (;;) {
		char key[64];
		js_ws(&j);
		if (js_string(&j, key, sizeof key, &cut) < 0 || cut)
			return -1;
		js_ws(&j);
		if (*j.p++ != ':')
			return -1;
		js_ws(&j);
		if (strcmp(key, "table") == 0) {
			if (js_string(&j, out->table, sizeof out->table, &cut) < 0 || cut ||
			    !out->table[0])
				return -1;
			have_table = true;
		} else if (strcmp(key, "op") == 0) {
			if (js_string(&j, out->op, sizeof out->op, &cut) < 0 || cut)
				return -1;
			if (strcmp(out->op, "INSERT") != 0 && strcmp(out->op, "UPDATE") != 0 &&
			    strcmp(out->op, "DELETE") != 0)
				return -1;
			have_op = true;
		} else if (strcmp(key, "id") == 0) {
			if (js_int(&j, &out->id) < 0)
				return -1;
			have_id = true;
		} else if (ends_with_id(key)) {
			if (out->owner[0])
				return -1;	/* two owners: not ours */
			snprintf(out->owner, sizeof out->owner, "%s", key);
			if (js_word(&j, "null"))
				out->owner_id = 0;
			else if (js_int(&j, &out->owner_id) < 0)
				return -1;
		} else {
			/* Another member: skip a scalar. */
			char skip[8];
			int64_t v;
			if (*j.p == '"') {
				if (js_string(&j, skip, sizeof skip, &cut) < 0)
					return -1;
			} else if (!js_word(&j, "null") && !js_word(&j, "true") &&
				   !js_word(&j, "false") && js_int(&j, &v) < 0) {
				return -1;
			}
		}
		js_ws(&j);
		if (*j.p == ',') {
			j.p++;
			continue;
		}
		if (*j.p++ != '}')
			return -1;
		break;
	}
	js_ws(&j);
	if (*j.p != '\0' || !have_table || !have_op || !have_id)
		return -1;
	return 0;
}

/* ---- building records from rows ---------------------------------------------------- */

static bool col_bool(const PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col)[0] == 't';
}

static int64_t col_int(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void copy_ha1(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	/* The schema checks the form; a value that does not fit is not one. */
	if (n >= cap)
		n = 0;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static size_t count_words(const char *s)
{
	size_t n = 0;
	for (bool in = false; *s; s++) {
		if (*s != ' ' && !in)
			n++;
		in = *s != ' ';
	}
	return n;
}

/* The next space-separated word of *s into a NUL-terminated buf. */
static bool next_word(const char **s, char *buf, size_t cap)
{
	while (**s == ' ')
		(*s)++;
	if (!**s)
		return false;
	size_t n = strcspn(*s, " ");
	size_t k = n < cap ? n : cap - 1;
	memcpy(buf, *s, k);
	buf[k] = '\0';
	*s += n;
	return true;
}

static struct sub_rec *sub_from_row(const PGresult *r, int row)
{
	const char *user = PQgetvalue(r, row, 2), *display = PQgetvalue(r, row, 3);
	const char *auth = PQgetvalue(r, row, 4);
	const char *acl = PQgetvalue(r, row, 10), *aliases = PQgetvalue(r, row, 11),
		   *dids = PQgetvalue(r, row, 12), *features = PQgetvalue(r, row, 13);
	size_t nacl = count_words(acl), nal = count_words(aliases), ndid = count_words(dids);
	size_t nkeys = 1 + nal + ndid, ncalling = 0, ncalled = 0;

	/* Keys are found again by a 16-bit index, aliases and DIDs counted
	 * in 16 bits; the counts are public as 16 bits too. */
	if (nkeys > UINT16_MAX || nacl > UINT16_MAX)
		return NULL;
	if (features[0] && store_parse_hops(features, NULL, &ncalling, NULL, &ncalled, SIZE_MAX) < 0)
		return NULL;
	if (ncalling > UINT16_MAX || ncalled > UINT16_MAX)
		return NULL;
	/* Strings: the user part, the display name, then the keys; a
	 * normalised key is never longer than its source. */
	size_t strings = strlen(user) + 1 + strlen(display) + 1 + strlen(user) + 1 +
			 strlen(aliases) + 1 + strlen(dids) + 1;
	size_t size = sizeof(struct sub_rec) + nkeys * sizeof(struct sub_key) +
		      (ncalling + ncalled) * sizeof(int64_t) + nacl * sizeof(struct cidr) + strings;
	if (size > UINT32_MAX)
		return NULL;
	struct sub_rec *s = calloc(1, size);
	if (!s)
		return NULL;
	s->size = (uint32_t)size;
	/* After the keys (8-byte aligned): the hops, the networks, the
	 * strings. */
	int64_t *hops = (int64_t *)(void *)(s->keys + nkeys);
	if (ncalling + ncalled) {
		size_t nc = ncalling, nt = ncalled;
		store_parse_hops(features, hops, &nc, hops + ncalling, &nt, ncalling + ncalled);
		s->pub.calling_hops = ncalling ? hops : NULL;
		s->pub.called_hops = ncalled ? hops + ncalling : NULL;
		s->pub.ncalling_hops = (uint16_t)ncalling;
		s->pub.ncalled_hops = (uint16_t)ncalled;
	}
	s->pub.acl = (struct cidr *)(void *)(hops + ncalling + ncalled);
	char *p = (char *)(s->pub.acl + nacl), *end = (char *)s + size;

	s->pub.id = col_int(r, row, 0);
	s->pub.domain_id = col_int(r, row, 1);
	s->pub.user = p;
	p = stpcpy(p, user) + 1;
	s->pub.display_name = p;
	p = stpcpy(p, display) + 1;
	s->pub.auth = strcmp(auth, "ip") == 0	    ? STORE_AUTH_IP
		      : strcmp(auth, "digest") == 0 ? STORE_AUTH_DIGEST
						    : STORE_AUTH_NONE;
	copy_ha1(s->pub.ha1_md5, sizeof s->pub.ha1_md5, PQgetvalue(r, row, 5));
	copy_ha1(s->pub.ha1_sha256, sizeof s->pub.ha1_sha256, PQgetvalue(r, row, 6));
	copy_ha1(s->pub.ha1_sha512_256, sizeof s->pub.ha1_sha512_256, PQgetvalue(r, row, 7));
	s->pub.marshal_group_id = col_int(r, row, 8);
	s->pub.enabled = col_bool(r, row, 9);

	char word[512], why[160];
	for (const char *w = acl; next_word(&w, word, sizeof word);) {
		if (cidr_parse(word, &s->pub.acl[s->pub.nacl], why, sizeof why) == 0)
			s->pub.nacl++;
		else
			log_warnx("store: subscriber %" PRId64 ": %s", s->pub.id, why);
	}

	/* Keys: the user part, the aliases ("domain_id:user"), the DIDs. */
	struct sub_key *k = s->keys;
	long n = store_user_normalize(sip_str_make(user, strlen(user)), p, (size_t)(end - p));
	if (n < 0) {
		free(s);
		return NULL;
	}
	*k = (struct sub_key){.domain_id = s->pub.domain_id, .s = p, .len = (uint32_t)n};
	k++;
	p += n + 1;
	for (const char *w = aliases; next_word(&w, word, sizeof word);) {
		char *colon = strchr(word, ':');
		if (!colon)
			continue;
		*colon = '\0';
		n = store_user_normalize(sip_str_make(colon + 1, strlen(colon + 1)), p,
					 (size_t)(end - p));
		if (n < 0)
			continue;
		*k = (struct sub_key){.domain_id = strtoll(word, NULL, 10), .s = p,
				      .len = (uint32_t)n, .idx = (uint16_t)(k - s->keys)};
		k++;
		p += n + 1;
		s->naliases++;
	}
	for (const char *w = dids; next_word(&w, word, sizeof word);) {
		const char *num = word[0] == '+' ? word + 1 : word;
		size_t len = strlen(num);
		if (len == 0 || len + 1 > (size_t)(end - p))
			continue;
		memcpy(p, num, len + 1);
		*k = (struct sub_key){.s = p, .len = (uint32_t)len, .did = true,
				      .idx = (uint16_t)(k - s->keys)};
		k++;
		p += len + 1;
		s->ndids++;
	}
	return s;
}

static uint64_t key_hash(int64_t domain_id, const char *s, size_t len)
{
	return hash_bytes((uint64_t)domain_id * 0x9e3779b97f4a7c15ull, s, len);
}

static struct htab *key_table(struct snap *sn, const struct sub_key *k)
{
	return k->did ? &sn->did : &sn->aor;
}

/* Takes a linked subscriber out of the tables. */
static void sub_unlink(struct snap *sn, struct sub_rec *s)
{
	ht_remove(&sn->sub_id, &s->by_id);
	for (size_t i = 0; i < sub_nkeys(s); i++)
		ht_remove(key_table(sn, &s->keys[i]), &s->keys[i].node);
	sn->nsubs--;
	sn->naliases -= s->naliases;
	sn->ndids -= s->ndids;
	sn->bytes -= s->size;
}

static struct sub_rec *snap_sub(const struct snap *sn, int64_t id)
{
	uint64_t h = hash_id(id);
	HT_FOR(&sn->sub_id, h, x) {
		struct sub_rec *s = container_of(x, struct sub_rec, by_id);
		if (s->pub.id == id)
			return s;
	}
	return NULL;
}

static struct sub_key *find_key(const struct htab *t, int64_t domain_id, const char *s, size_t len)
{
	uint64_t h = key_hash(domain_id, s, len);
	HT_FOR(t, h, x) {
		struct sub_key *k = container_of(x, struct sub_key, node);
		if (k->domain_id == domain_id && k->len == len && memcmp(k->s, s, len) == 0)
			return k;
	}
	return NULL;
}

/* Links s in, replacing the subscriber of the same id. A key another
 * subscriber holds (a change seen half-way: the old holder's update has
 * not arrived yet) is taken over. On failure (-1) s is in no table. */
static int sub_link(struct snap *sn, struct sub_rec *s)
{
	struct sub_rec *old = snap_sub(sn, s->pub.id);
	if (old) {
		sub_unlink(sn, old);
		free(old);
	}
	if (ht_insert(&sn->sub_id, &s->by_id, hash_id(s->pub.id), &sn->bytes) < 0)
		return -1;
	for (size_t i = 0; i < sub_nkeys(s); i++) {
		struct sub_key *k = &s->keys[i];
		struct htab *t = key_table(sn, k);
		struct sub_key *other = find_key(t, k->domain_id, k->s, k->len);
		if (other)
			ht_remove(t, &other->node);
		if (ht_insert(t, &k->node, key_hash(k->domain_id, k->s, k->len), &sn->bytes) < 0) {
			/* Keep the tables consistent: drop what was linked. */
			for (size_t j = 0; j < i; j++)
				ht_remove(key_table(sn, &s->keys[j]), &s->keys[j].node);
			ht_remove(&sn->sub_id, &s->by_id);
			return -1;
		}
	}
	sn->nsubs++;
	sn->naliases += s->naliases;
	sn->ndids += s->ndids;
	sn->bytes += s->size;
	return 0;
}

static void sub_delete(struct snap *sn, int64_t id)
{
	struct sub_rec *s = snap_sub(sn, id);
	if (s) {
		sub_unlink(sn, s);
		free(s);
	}
}

/* -- domains -- */

static uint64_t name_hash(const char *s, size_t len)
{
	return hash_bytes(1, s, len);
}

static struct dom_rec *dom_from_row(const PGresult *r, int row)
{
	const char *name = PQgetvalue(r, row, 1), *realm = PQgetvalue(r, row, 2);
	size_t nl = strlen(name) + 1, rl = strlen(realm) + 1;
	size_t size = sizeof(struct dom_rec) + nl + rl;
	struct dom_rec *d = calloc(1, size);
	if (!d)
		return NULL;
	d->size = size;
	d->pub.id = col_int(r, row, 0);
	d->pub.name = (char *)(d + 1);
	for (size_t i = 0; i < nl; i++)
		d->pub.name[i] = (char)ascii_lower((unsigned char)name[i]);
	d->pub.realm = d->pub.name + nl;
	memcpy(d->pub.realm, realm, rl);
	d->pub.enabled = col_bool(r, row, 3);
	return d;
}

static struct dom_rec *snap_dom(const struct snap *sn, int64_t id)
{
	uint64_t h = hash_id(id);
	HT_FOR(&sn->dom_id, h, x) {
		struct dom_rec *d = container_of(x, struct dom_rec, by_id);
		if (d->pub.id == id)
			return d;
	}
	return NULL;
}

static void dom_delete(struct snap *sn, int64_t id)
{
	struct dom_rec *d = snap_dom(sn, id);
	if (!d)
		return;
	ht_remove(&sn->dom_id, &d->by_id);
	ht_remove(&sn->dom_name, &d->by_name);
	sn->ndomains--;
	sn->bytes -= d->size;
	free(d);
}

static int dom_link(struct snap *sn, struct dom_rec *d)
{
	dom_delete(sn, d->pub.id);
	if (ht_insert(&sn->dom_id, &d->by_id, hash_id(d->pub.id), &sn->bytes) < 0)
		return -1;
	if (ht_insert(&sn->dom_name, &d->by_name, name_hash(d->pub.name, strlen(d->pub.name)),
		      &sn->bytes) < 0) {
		ht_remove(&sn->dom_id, &d->by_id);
		return -1;
	}
	sn->ndomains++;
	sn->bytes += d->size;
	return 0;
}

/* -- groups and servers -- */

static void platform_free(struct platform *p)
{
	if (!p)
		return;
	free(p->groups);
	free(p->servers);
	free(p->order);
	free(p->by_id.b);
	free(p->by_name.b);
	free(p->strings);
	free(p);
}

static int server_order(const void *a, const void *b)
{
	const struct store_server *x = *(const struct store_server *const *)a,
				  *y = *(const struct store_server *const *)b;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Groups and their servers from one joined result, ordered by group (a
 * group without servers is one row of NULL server columns). */
static struct platform *platform_from_rows(const PGresult *r)
{
	int rows = PQntuples(r);
	size_t ngroups = 0, nservers = 0, strings = 0;
	struct platform *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	for (int i = 0; i < rows; i++) {
		if (i == 0 || col_int(r, i, 0) != col_int(r, i - 1, 0)) {
			ngroups++;
			strings += strlen(PQgetvalue(r, i, 1)) + 1;
		}
		if (!PQgetisnull(r, i, 3)) {
			nservers++;
			strings += strlen(PQgetvalue(r, i, 4)) + 1;
		}
	}
	p->groups = calloc(ngroups + 1, sizeof *p->groups);
	p->servers = calloc(nservers + 1, sizeof *p->servers);
	p->order = calloc(nservers + 1, sizeof *p->order);
	p->strings = malloc(strings + 1);
	if (!p->groups || !p->servers || !p->order || !p->strings)
		goto fail;
	p->bytes = sizeof *p + (ngroups + 1) * sizeof *p->groups +
		   (nservers + 1) * (sizeof *p->servers + sizeof *p->order) + strings + 1;
	char *str = p->strings;
	struct group_rec *g = NULL;
	for (int i = 0; i < rows; i++) {
		if (!g || col_int(r, i, 0) != g->pub.id) {
			if (g)
				qsort(g->servers, g->nservers, sizeof *g->servers, server_order);
			g = &p->groups[p->ngroups++];
			g->pub.id = col_int(r, i, 0);
			g->pub.name = str;
			str = stpcpy(str, PQgetvalue(r, i, 1)) + 1;
			snprintf(g->pub.kind, sizeof g->pub.kind, "%s", PQgetvalue(r, i, 2));
			g->pub.on_failure = strcmp(PQgetvalue(r, i, 10), "skip") == 0
						    ? STORE_ON_FAILURE_SKIP
						    : STORE_ON_FAILURE_FAIL;
			g->servers = p->order + p->nservers;
			if (ht_insert(&p->by_id, &g->by_id, hash_id(g->pub.id), &p->bytes) < 0 ||
			    ht_insert(&p->by_name, &g->by_name,
				      name_hash(g->pub.name, strlen(g->pub.name)), &p->bytes) < 0)
				goto fail;
		}
		if (PQgetisnull(r, i, 3))
			continue;
		struct srv_rec *v = &p->servers[p->nservers];
		const char *host = PQgetvalue(r, i, 4);
		v->pub.id = col_int(r, i, 3);
		v->pub.group_id = g->pub.id;
		v->pub.host = str;
		str = stpcpy(str, host) + 1;
		v->pub.port = (uint16_t)col_int(r, i, 5);
		snprintf(v->pub.transport, sizeof v->pub.transport, "%s", PQgetvalue(r, i, 6));
		v->pub.priority = (uint16_t)col_int(r, i, 7);
		v->pub.weight = (uint16_t)col_int(r, i, 8);
		v->pub.enabled = col_bool(r, i, 9);
		/* Numeric hosts only: a name says nothing about the address a
		 * request comes from. */
		if (inet_pton(AF_INET, host, v->addr) == 1) {
			v->family = AF_INET;
		} else if (inet_pton(AF_INET6, host, v->addr) == 1) {
			v->family = AF_INET6;
			if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)v->addr)) {
				memmove(v->addr, v->addr + 12, 4);
				v->family = AF_INET;
			}
		}
		p->order[p->nservers++] = &v->pub;
		g->nservers++;
	}
	if (g)
		qsort(g->servers, g->nservers, sizeof *g->servers, server_order);
	return p;
fail:
	platform_free(p);
	return NULL;
}

static struct group_rec *platform_group(const struct platform *p, int64_t id)
{
	if (!p)
		return NULL;
	uint64_t h = hash_id(id);
	HT_FOR(&p->by_id, h, x) {
		struct group_rec *g = container_of(x, struct group_rec, by_id);
		if (g->pub.id == id)
			return g;
	}
	return NULL;
}

/* -- dial plans -- */

static void plan_free(struct plan *pl)
{
	if (!pl)
		return;
	for (size_t i = 0; i < pl->nentries; i++) {
		regfree(&pl->entries[i].re);
		free(pl->entries[i].tmpl);
	}
	free(pl->entries);
	free(pl->name);
	free(pl);
}

/* Builds the plans of rows [*row, end of that plan). */
static struct plan *plan_from_rows(const PGresult *r, int *row)
{
	int rows = PQntuples(r), first = *row, last = first;
	int64_t id = col_int(r, first, 0);
	while (last < rows && col_int(r, last, 0) == id)
		last++;
	*row = last;

	struct plan *pl = calloc(1, sizeof *pl);
	if (!pl)
		return NULL;
	pl->id = id;
	pl->name = strdup(PQgetvalue(r, first, 1));
	pl->entries = calloc((size_t)(last - first), sizeof *pl->entries);
	if (!pl->name || !pl->entries) {
		plan_free(pl);
		return NULL;
	}
	pl->bytes = sizeof *pl + strlen(pl->name) + 1 + (size_t)(last - first) * sizeof *pl->entries;
	for (int i = first; i < last; i++) {
		int pos = (int)col_int(r, i, 2);
		const char *pattern = PQgetvalue(r, i, 3);
		if (pos < 0)
			continue;	/* the plan has no entry (LEFT JOIN) */
		/* Anchored here, so that a match covers the whole subject
		 * whatever the pattern says; its groups move up by one. The
		 * pattern is compiled alone first: it must be valid by itself,
		 * and a stray ')' must not close our group early (the group
		 * count shows it). */
		struct plan_entry *e = &pl->entries[pl->nentries];
		size_t plen = strlen(pattern), nsub;
		char why[128] = "";
		const char *costly = regex_too_costly(pattern);
		int rc = costly ? -1 : regcomp(&e->re, pattern, REG_EXTENDED | REG_NOSUB);
		if (costly)
			snprintf(why, sizeof why, "too costly to compile: %s", costly);
		if (rc == 0) {
			nsub = e->re.re_nsub;
			regfree(&e->re);
			char *anchored = malloc(plen + 5);
			if (!anchored) {
				plan_free(pl);
				return NULL;
			}
			snprintf(anchored, plen + 5, "^(%s)$", pattern);
			rc = regcomp(&e->re, anchored, REG_EXTENDED);
			free(anchored);
			if (rc == 0 && e->re.re_nsub != nsub + 1) {
				regfree(&e->re);
				snprintf(why, sizeof why, "unbalanced parentheses");
				rc = -1;
			}
		}
		if (rc != 0) {
			if (rc > 0)
				regerror(rc, &e->re, why, sizeof why);
			log_warnx("store: dial plan %s: entry at position %d skipped: pattern %s: %s",
				  pl->name, pos, pattern, why);
			continue;
		}
		e->tmpl = strdup(PQgetvalue(r, i, 4));
		if (!e->tmpl) {
			regfree(&e->re);
			plan_free(pl);
			return NULL;
		}
		e->position = pos;
		pl->bytes += sizeof(regex_t) + plen * 16 + strlen(e->tmpl) + 1; /* regex: a guess */
		pl->nentries++;
	}
	return pl;
}

static struct plan *snap_plan(const struct snap *sn, int64_t id)
{
	uint64_t h = hash_id(id);
	HT_FOR(&sn->plan_id, h, x) {
		struct plan *pl = container_of(x, struct plan, by_id);
		if (pl->id == id)
			return pl;
	}
	return NULL;
}

static void plan_delete(struct snap *sn, int64_t id)
{
	struct plan *pl = snap_plan(sn, id);
	if (!pl)
		return;
	ht_remove(&sn->plan_id, &pl->by_id);
	ht_remove(&sn->plan_name, &pl->by_name);
	sn->nentries -= pl->nentries;
	sn->bytes -= pl->bytes;
	plan_free(pl);
}

static int plan_link(struct snap *sn, struct plan *pl)
{
	plan_delete(sn, pl->id);
	if (ht_insert(&sn->plan_id, &pl->by_id, hash_id(pl->id), &sn->bytes) < 0)
		return -1;
	if (ht_insert(&sn->plan_name, &pl->by_name, name_hash(pl->name, strlen(pl->name)),
		      &sn->bytes) < 0) {
		ht_remove(&sn->plan_id, &pl->by_id);
		return -1;
	}
	sn->nentries += pl->nentries;
	sn->bytes += pl->bytes;
	return 0;
}

/* -- snapshots -- */

static void snap_free(struct snap *sn)
{
	if (!sn)
		return;
	for (size_t i = 0; i < sn->sub_id.nb; i++) {
		for (struct hnode *x = sn->sub_id.b[i], *next; x; x = next) {
			next = x->next;
			free(container_of(x, struct sub_rec, by_id));
		}
	}
	for (size_t i = 0; i < sn->dom_id.nb; i++) {
		for (struct hnode *x = sn->dom_id.b[i], *next; x; x = next) {
			next = x->next;
			free(container_of(x, struct dom_rec, by_id));
		}
	}
	for (size_t i = 0; i < sn->plan_id.nb; i++) {
		for (struct hnode *x = sn->plan_id.b[i], *next; x; x = next) {
			next = x->next;
			plan_free(container_of(x, struct plan, by_id));
		}
	}
	free(sn->sub_id.b);
	free(sn->aor.b);
	free(sn->did.b);
	free(sn->dom_id.b);
	free(sn->dom_name.b);
	free(sn->plan_id.b);
	free(sn->plan_name.b);
	platform_free(sn->plat);
	free(sn);
}

/* ---- loading ------------------------------------------------------------------------ */

static void start_full_load(struct store *s);

static void changed(struct store *s, const char *table, int64_t id)
{
	if (s->hooks.changed)
		s->hooks.changed(s->hooks.ctx, table, id);
}

static void on_retry(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct store *s = arg;
	(void)loop;
	(void)t;
	if (pgq_connected(s->q))
		start_full_load(s);
	/* Not connected: the up hook loads. */
}

static void load_result_done(struct store *s)
{
	struct load *l = s->load;
	if (--l->left > 0)
		return;
	s->load = NULL;
	if (l->failed) {
		snap_free(l->snap);
		free(l);
		if (pgq_connected(s->q))
			ev_timer_start(s->loop, &s->retry, RELOAD_RETRY_MS);
		return;
	}
	struct snap *old = s->cur;
	s->cur = l->snap;
	free(l);
	snap_free(old);
	s->ready = true;
	s->stats.full_loads++;
	log_info("store: loaded %zu domains, %zu subscribers, %zu servers, %zu dial plan entries",
		 s->cur->ndomains, s->cur->nsubs, s->cur->plat ? s->cur->plat->nservers : 0,
		 s->cur->nentries);
	changed(s, NULL, 0);
	if (s->load_again) {
		s->load_again = false;
		start_full_load(s);
	}
}

/* The common head of a full load's callbacks: false when the result is
 * not to be used. */
static bool load_ok(struct store *s, const char *what, const char *err)
{
	if (err) {
		if (!s->load->failed)
			log_warnx("store: loading %s: %s", what, err);
		s->load->failed = true;
	}
	return !s->load->failed;
}

static void on_load_domains(void *arg, const PGresult *r, const char *err)
{
	struct store *s = arg;
	if (load_ok(s, "domains", err)) {
		for (int i = 0; i < PQntuples(r); i++) {
			struct dom_rec *d = dom_from_row(r, i);
			if (!d || dom_link(s->load->snap, d) < 0) {
				free(d);
				load_ok(s, "domains", "out of memory");
				break;
			}
		}
	}
	load_result_done(s);
}

static void on_load_subscribers(void *arg, const PGresult *r, const char *err)
{
	struct store *s = arg;
	if (load_ok(s, "subscribers", err)) {
		for (int i = 0; i < PQntuples(r); i++) {
			struct sub_rec *sub = sub_from_row(r, i);
			if (!sub || sub_link(s->load->snap, sub) < 0) {
				free(sub);
				load_ok(s, "subscribers", "out of memory");
				break;
			}
		}
	}
	load_result_done(s);
}

static void on_load_servers(void *arg, const PGresult *r, const char *err)
{
	struct store *s = arg;
	if (load_ok(s, "servers", err) && !(s->load->snap->plat = platform_from_rows(r)))
		load_ok(s, "servers", "out of memory");
	load_result_done(s);
}

static void on_load_plans(void *arg, const PGresult *r, const char *err)
{
	struct store *s = arg;
	if (load_ok(s, "dial plans", err)) {
		for (int row = 0; row < PQntuples(r);) {
			struct plan *pl = plan_from_rows(r, &row);
			if (!pl || plan_link(s->load->snap, pl) < 0) {
				plan_free(pl);
				load_ok(s, "dial plans", "out of memory");
				break;
			}
		}
	}
	load_result_done(s);
}

static void start_full_load(struct store *s)
{
	static const struct {
		const char *stmt;
		pgq_result_fn cb;
	} queries[] = {
		{"store_domains", on_load_domains},
		{"store_subscribers", on_load_subscribers},
		{"store_servers", on_load_servers},
		{"store_plans", on_load_plans},
	};

	if (s->load) {
		s->load_again = true;
		return;
	}
	ev_timer_stop(s->loop, &s->retry);
	struct load *l = calloc(1, sizeof *l);
	if (!l || !(l->snap = calloc(1, sizeof *l->snap))) {
		free(l);
		ev_timer_start(s->loop, &s->retry, RELOAD_RETRY_MS);
		return;
	}
	s->load = l;
	/* Pipelined: all four go out at once. */
	for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
		if (s->exec(s->exec_ctx, queries[i].stmt, 0, NULL, queries[i].cb, s) < 0) {
			/* Refused (queue full or connection gone): the
			 * queries already queued finish the load as failed. */
			l->failed = true;
			if (l->left == 0) {
				s->load = NULL;
				snap_free(l->snap);
				free(l);
				if (pgq_connected(s->q))
					ev_timer_start(s->loop, &s->retry, RELOAD_RETRY_MS);
			}
			return;
		}
		l->left++;
	}
}

int store_load_results(struct store *s, const PGresult *domains, const PGresult *subscribers,
		       const PGresult *servers, const PGresult *plans)
{
	uint64_t loads = s->stats.full_loads;
	struct load *l = calloc(1, sizeof *l);
	if (!l || s->load || !(l->snap = calloc(1, sizeof *l->snap))) {
		free(l);
		return -1;
	}
	/* The callbacks of a full load, in its order; PQntuples(NULL) is 0. */
	s->load = l;
	l->left = 4;
	on_load_domains(s, domains, NULL);
	on_load_subscribers(s, subscribers, NULL);
	on_load_servers(s, servers, NULL);
	on_load_plans(s, plans, NULL);
	return s->stats.full_loads > loads ? 0 : -1;
}

/* -- row reloads -- */

struct row_req {
	struct store *s;
	int64_t id;
	enum { ROW_DOMAIN, ROW_PLAN, ROW_SERVERS } kind;
};

static void on_row(void *arg, const PGresult *r, const char *err)
{
	struct row_req *req = arg;
	struct store *s = req->s;
	struct snap *sn = s->cur;
	int64_t id = req->id;
	int kind = req->kind;
	static const char *const tables[] = {
		[ROW_DOMAIN] = "domains",
		[ROW_PLAN] = "dial_plans", [ROW_SERVERS] = "servers",
	};
	const char *table = tables[kind];

	free(req);
	if (err) {
		if (strcmp(err, "connection lost") != 0 && strcmp(err, "shutting down") != 0) {
			log_warnx("store: reloading %s %" PRId64 ": %s", table, id, err);
			ev_timer_start(s->loop, &s->retry, RELOAD_RETRY_MS);
		}
		return;
	}
	if (!sn)
		return;
	bool fail = false;
	switch (kind) {
	case ROW_DOMAIN:
		if (PQntuples(r) == 0) {
			dom_delete(sn, id);
		} else {
			struct dom_rec *d = dom_from_row(r, 0);
			if (!d || dom_link(sn, d) < 0) {
				free(d);
				fail = true;
			}
		}
		break;
	case ROW_SERVERS: {
		struct platform *p = platform_from_rows(r);
		if (!p) {
			fail = true;
		} else {
			platform_free(sn->plat);
			sn->plat = p;
		}
		break;
	}
	default:
		if (PQntuples(r) == 0) {
			plan_delete(sn, id);
		} else {
			int row = 0;
			struct plan *pl = plan_from_rows(r, &row);
			if (!pl || plan_link(sn, pl) < 0) {
				plan_free(pl);
				fail = true;
			}
		}
		break;
	}
	if (fail) {
		log_warnx("store: reloading %s %" PRId64 ": out of memory", table, id);
		ev_timer_start(s->loop, &s->retry, RELOAD_RETRY_MS);
		return;
	}
	s->stats.row_reloads++;
	changed(s, table, id);
}

static void reload_row(struct store *s, int kind, const char *stmt, int64_t id)
{
	struct row_req *req = malloc(sizeof *req);
	char num[24];
	const char *params[1] = {num};

	snprintf(num, sizeof num, "%" PRId64, id);
	if (req) {
		*req = (struct row_req){.s = s, .id = id, .kind = kind};
		if (s->exec(s->exec_ctx, stmt, kind == ROW_SERVERS ? 0 : 1, params, on_row, req) == 0)
			return;
		free(req);
	}
	/* Refused: the queue is full (or memory is short). The change must
	 * not be lost: load everything again a little later. */
	log_warnx("store: cannot reload %s %" PRId64 " now; full reload scheduled", stmt, id);
	if (!ev_timer_active(&s->retry))
		ev_timer_start(s->loop, &s->retry, RELOAD_RETRY_MS);
}


/* -- batched subscriber reloads -- */

struct batch_req {
	struct store *s;
	size_t n;
	int64_t ids[];		/* ascending, as the query's rows */
};

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Forgets the subscribers waiting (a full load covers them). */
static void drop_pending(struct store *s)
{
	idset_clear(&s->pending);
	ev_timer_stop(s->loop, &s->flush);
	free(s->batch_ids);
	s->batch_ids = NULL;
	s->nbatch_ids = s->batch_at = 0;
}

/* Everything again, rather than the pending subscribers one by one. */
static void pending_overflow(struct store *s)
{
	log_warnx("store: more than %zu subscribers changed at once; full reload instead",
		  s->pending_max);
	drop_pending(s);
	s->stats.batch_overflows++;
	start_full_load(s);
	changed(s, "subscribers", 0);
}

int store_apply_batch(struct store *s, const int64_t *ids, size_t n, const PGresult *r)
{
	struct snap *sn = s->cur;
	int rows = PQntuples(r), row = 0;
	int fail = 0;

	/* Rows and ids both ascend: a merge tells the ids found (linked
	 * anew) from those gone (deleted). */
	for (size_t i = 0; i < n; i++) {
		int64_t id = ids[i];
		while (row < rows && col_int(r, row, 0) < id)
			row++;
		if (row < rows && col_int(r, row, 0) == id) {
			struct sub_rec *sub = sub_from_row(r, row++);
			if (!sub || sub_link(sn, sub) < 0) {
				free(sub);
				log_warnx("store: reloading subscriber %" PRId64 ": out of memory", id);
				fail = -1;
				continue;
			}
		} else {
			sub_delete(sn, id);
		}
		s->stats.row_reloads++;
		changed(s, "subscribers", id);
	}
	s->stats.batches++;
	return fail;
}

static void send_batches(struct store *s);

static void on_batch(void *arg, const PGresult *r, const char *err)
{
	struct batch_req *b = arg;
	struct store *s = b->s;

	s->inflight--;
	if (err) {
		if (strcmp(err, "connection lost") != 0 && strcmp(err, "shutting down") != 0) {
			log_warnx("store: reloading %zu subscribers: %s", b->n, err);
			ev_timer_start(s->loop, &s->retry, RELOAD_RETRY_MS);
		}
		free(b);
		return;
	}
	if (store_apply_batch(s, b->ids, b->n, r) < 0)
		ev_timer_start(s->loop, &s->retry, RELOAD_RETRY_MS);
	s->run_subs += b->n;
	free(b);
	send_batches(s);
	if (s->inflight == 0) {
		/* idle again: the end of an import's reloads, timed by tests */
		if (s->run_subs > 1)
			log_info("store: every changed subscriber reloaded (%" PRIu64 ")", s->run_subs);
		s->run_subs = 0;
	}
}

/* Sends batches of the ready ids (taking the pending ones when they run
 * out) while fewer than STORE_BATCH_INFLIGHT are in flight. */
static void send_batches(struct store *s)
{
	while (s->inflight < STORE_BATCH_INFLIGHT) {
		if (s->batch_at == s->nbatch_ids) {
			free(s->batch_ids);
			s->batch_ids = idset_take(&s->pending, &s->nbatch_ids);
			s->batch_at = 0;
			if (!s->batch_ids)
				return;
			qsort(s->batch_ids, s->nbatch_ids, sizeof *s->batch_ids, cmp_id);
			if (s->nbatch_ids > 1)
				log_info("store: %zu changed subscribers, reloading in %zu queries",
					 s->nbatch_ids, (s->nbatch_ids + s->batch_max - 1) / s->batch_max);
		}
		const int64_t *ids = s->batch_ids + s->batch_at;
		size_t left = s->nbatch_ids - s->batch_at;
		size_t k = left < s->batch_max ? left : s->batch_max;
		struct batch_req *b = malloc(sizeof *b + k * sizeof b->ids[0]);
		char *arr = idset_pg_array(ids, k);
		const char *params[1] = {arr};
		if (b && arr) {
			b->s = s;
			b->n = k;
			memcpy(b->ids, ids, k * sizeof b->ids[0]);
			if (s->exec(s->exec_ctx, "store_subscriber_batch", 1, params, on_batch, b) == 0) {
				free(arr);
				s->inflight++;
				s->batch_at += k;
				continue;
			}
		}
		free(arr);
		free(b);
		/* Refused: the queue is full (or memory is short). The
		 * changes must not be lost: load everything again a little
		 * later. */
		log_warnx("store: cannot reload %zu subscribers now; full reload scheduled", left);
		s->batch_at = s->nbatch_ids;
		if (!ev_timer_active(&s->retry))
			ev_timer_start(s->loop, &s->retry, RELOAD_RETRY_MS);
		return;
	}
}

static void on_flush(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	send_batches(arg);
}

/* A subscriber changed: reloaded with the others that change within
 * BATCH_DELAY_MS, in one query per batch_max of them. */
static void reload_subscriber(struct store *s, int64_t id)
{
	int added = idset_add(&s->pending, id);
	if (added < 0 || s->pending.n + (s->nbatch_ids - s->batch_at) > s->pending_max) {
		pending_overflow(s);
		return;
	}
	if (added)
		s->stats.pending_max = s->pending.n > s->stats.pending_max ? s->pending.n
									   : s->stats.pending_max;
	if (!ev_timer_active(&s->flush))
		ev_timer_start(s->loop, &s->flush, BATCH_DELAY_MS);
}

static int exec_pgq(void *ctx, const char *stmt, int nparams, const char *const *values,
		    pgq_result_fn cb, void *arg)
{
	return ctx ? pgq_exec(ctx, stmt, nparams, values, cb, arg) : -1;
}

void store_set_exec(struct store *s, store_exec_fn fn, void *ctx, size_t batch_max,
		    size_t pending_max)
{
	s->exec = fn ? fn : exec_pgq;
	s->exec_ctx = fn ? ctx : s->q;
	s->batch_max = batch_max ? batch_max : STORE_BATCH_MAX;
	s->pending_max = pending_max ? pending_max : STORE_PENDING_MAX;
}


/* ---- notifications ------------------------------------------------------------------ */

void store_pgq_notify(struct store *s, const char *channel, const char *payload)
{
	struct store_change c;

	/* Every channel the daemon listens on carries the triggers' payloads:
	 * vocal_changes, and vocal_bindings for redirectd. */
	s->stats.notifications++;
	if (store_parse_change(payload, &c) < 0) {
		s->stats.bad_notifications++;
		log_warnx("store: bad notification on %s: %.200s", channel, payload ? payload : "");
		return;
	}
	/* Owned rows need their owner: without it the payload is not one of
	 * our triggers'. */
	bool owned = strcmp(c.table, "subscriber_acl") == 0 || strcmp(c.table, "aliases") == 0 ||
		     strcmp(c.table, "dids") == 0 || strcmp(c.table, "subscriber_features") == 0;
	if (owned && (strcmp(c.owner, "subscriber_id") != 0 || c.owner_id <= 0)) {
		s->stats.bad_notifications++;
		log_warnx("store: notification without its subscriber: %.200s", payload);
		return;
	}
	if (strcmp(c.table, "dial_plan_entries") == 0 &&
	    (strcmp(c.owner, "dial_plan_id") != 0 || c.owner_id <= 0)) {
		s->stats.bad_notifications++;
		log_warnx("store: notification without its dial plan: %.200s", payload);
		return;
	}
	/* During the first load there is nothing to patch: the load sees
	 * the change or comes after it. */
	if (strcmp(c.table, "subscribers") == 0)
		reload_subscriber(s, c.id);
	else if (owned)
		reload_subscriber(s, c.owner_id);
	else if (strcmp(c.table, "domains") == 0)
		reload_row(s, ROW_DOMAIN, "store_domain", c.id);
	else if (strcmp(c.table, "servers") == 0 || strcmp(c.table, "server_groups") == 0)
		reload_row(s, ROW_SERVERS, "store_servers", 0);
	else if (strcmp(c.table, "dial_plans") == 0)
		reload_row(s, ROW_PLAN, "store_plan", c.id);
	else if (strcmp(c.table, "dial_plan_entries") == 0)
		reload_row(s, ROW_PLAN, "store_plan", c.owner_id);
	else if (s->hooks.other)
		s->hooks.other(s->hooks.ctx, c.table, c.op, c.id, c.owner_id, payload);
}

/* ---- the interface ------------------------------------------------------------------ */

struct store *store_new(struct ev_loop *loop, struct pgq *q, const struct store_hooks *hooks)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->loop = loop;
	s->q = q;
	if (hooks)
		s->hooks = *hooks;
	ev_timer_init(&s->retry, on_retry, s);
	ev_timer_init(&s->flush, on_flush, s);
	store_set_exec(s, NULL, NULL, 0, 0);
	if (!(s->cur = calloc(1, sizeof *s->cur))) {
		free(s);
		return NULL;
	}
	/* No database (tests): loaded by store_load_results. */
	for (size_t i = 0; q && i < sizeof statements / sizeof statements[0]; i++) {
		if (pgq_prepare(q, statements[i].name, statements[i].sql, statements[i].nparams) < 0) {
			log_warnx("store: cannot declare statement %s", statements[i].name);
			snap_free(s->cur);
			free(s);
			return NULL;
		}
	}
	return s;
}

void store_free(struct store *s)
{
	if (!s)
		return;
	/* Queries still queued hold s as their argument: the daemon frees
	 * the pgq first (their callbacks run then), or this would leave
	 * them dangling. */
	ev_timer_stop(s->loop, &s->retry);
	drop_pending(s);
	if (s->load) {
		snap_free(s->load->snap);
		free(s->load);
	}
	snap_free(s->cur);
	free(s);
}

void store_pgq_up(struct store *s)
{
	/* Notifications may have been missed while down: everything again
	 * (which covers the subscribers waiting for a batch too). */
	drop_pending(s);
	start_full_load(s);
}

bool store_ready(const struct store *s)
{
	return s->ready;
}

const struct store_domain *store_domain_by_name(const struct store *s, sip_str name)
{
	char buf[256];
	if (name.len == 0 || name.len >= sizeof buf)
		return NULL;
	for (size_t i = 0; i < name.len; i++)
		buf[i] = (char)ascii_lower((unsigned char)name.s[i]);
	uint64_t h = name_hash(buf, name.len);
	HT_FOR(&s->cur->dom_name, h, x) {
		struct dom_rec *d = container_of(x, struct dom_rec, by_name);
		if (strlen(d->pub.name) == name.len && memcmp(d->pub.name, buf, name.len) == 0)
			return &d->pub;
	}
	return NULL;
}

const struct store_domain *store_domain_by_id(const struct store *s, int64_t id)
{
	struct dom_rec *d = snap_dom(s->cur, id);
	return d ? &d->pub : NULL;
}

const struct store_subscriber *store_subscriber_by_aor(const struct store *s, sip_str user,
						       sip_str domain)
{
	const struct store_domain *d = store_domain_by_name(s, domain);
	char key[USER_MAX];
	long n;

	if (!d || (n = store_user_normalize(user, key, sizeof key)) <= 0)
		return NULL;
	struct sub_key *k = find_key(&s->cur->aor, d->id, key, (size_t)n);
	return k ? &key_sub(k)->pub : NULL;
}

const struct store_subscriber *store_subscriber_by_id(const struct store *s, int64_t id)
{
	struct sub_rec *r = snap_sub(s->cur, id);
	return r ? &r->pub : NULL;
}

const struct store_subscriber *store_subscriber_by_did(const struct store *s, sip_str number)
{
	if (number.len > 0 && number.s[0] == '+') {
		number.s++;
		number.len--;
	}
	if (number.len == 0)
		return NULL;
	struct sub_key *k = find_key(&s->cur->did, 0, number.s, number.len);
	return k ? &key_sub(k)->pub : NULL;
}

const char *store_subscriber_ha1(const struct store_subscriber *sub, enum digest_alg base)
{
	const char *h;
	switch (digest_alg_base(base)) {
	case DIGEST_ALG_MD5:
		h = sub->ha1_md5;
		break;
	case DIGEST_ALG_SHA256:
		h = sub->ha1_sha256;
		break;
	case DIGEST_ALG_SHA512_256:
		h = sub->ha1_sha512_256;
		break;
	default:
		return NULL;
	}
	return h[0] ? h : NULL;
}

bool store_acl_allows(const struct store_subscriber *sub, const struct sockaddr *addr)
{
	for (size_t i = 0; i < sub->nacl; i++)
		if (cidr_match(&sub->acl[i], addr))
			return true;
	return false;
}

const struct store_group *store_group_by_name(const struct store *s, const char *name)
{
	const struct platform *p = s->cur->plat;
	if (!p)
		return NULL;
	uint64_t h = name_hash(name, strlen(name));
	HT_FOR(&p->by_name, h, x) {
		struct group_rec *g = container_of(x, struct group_rec, by_name);
		if (strcmp(g->pub.name, name) == 0)
			return &g->pub;
	}
	return NULL;
}

const struct store_group *store_group_by_id(const struct store *s, int64_t id)
{
	struct group_rec *g = platform_group(s->cur->plat, id);
	return g ? &g->pub : NULL;
}

size_t store_group_servers(const struct store *s, int64_t group_id,
			   const struct store_server **out, size_t cap)
{
	struct group_rec *g = platform_group(s->cur->plat, group_id);
	size_t n = 0;
	for (size_t i = 0; g && i < g->nservers && n < cap; i++)
		if (g->servers[i]->enabled)
			out[n++] = g->servers[i];
	return n;
}

bool store_is_server_addr(const struct store *s, const struct sockaddr *addr, uint16_t port)
{
	const struct platform *p = s->cur->plat;
	uint8_t bytes[16];
	int family = cidr_addr_bytes(addr, bytes);

	if (!p || !family)
		return false;
	/* A scan: a platform has tens of servers, not thousands. */
	for (size_t i = 0; i < p->nservers; i++) {
		const struct srv_rec *v = &p->servers[i];
		if (v->pub.enabled && v->family == family &&
		    memcmp(v->addr, bytes, family == AF_INET ? 4 : 16) == 0 &&
		    (port == 0 || port == v->pub.port))
			return true;
	}
	return false;
}

long store_dial_plan_route(const struct store *s, const char *plan, sip_str subject, char *out,
			   size_t cap)
{
	char subj[SUBJECT_MAX + 1];
	const struct plan *pl = NULL;

	uint64_t h = name_hash(plan, strlen(plan));
	HT_FOR(&s->cur->plan_name, h, x) {
		const struct plan *c = container_of(x, struct plan, by_name);
		if (strcmp(c->name, plan) == 0) {
			pl = c;
			break;
		}
	}
	if (!pl || subject.len > SUBJECT_MAX ||
	    (subject.len && memchr(subject.s, '\0', subject.len)))
		return 0;
	if (subject.len)
		memcpy(subj, subject.s, subject.len);
	subj[subject.len] = '\0';
	for (size_t i = 0; i < pl->nentries; i++) {
		/* Group 1 is the anchoring group around the whole pattern:
		 * the template's \N is match[N + 1], \0 the whole subject. */
		regmatch_t m[12], g[10];
		if (regexec(&pl->entries[i].re, subj, 12, m, 0) != 0 || m[0].rm_so != 0 ||
		    (size_t)m[0].rm_eo != subject.len)
			continue;
		g[0] = m[0];
		for (int k = 1; k < 10; k++)
			g[k] = m[k + 1];
		long n = store_template_expand(pl->entries[i].tmpl, subj, g, 10, out, cap);
		return n < 0 ? -1 : n;
	}
	return 0;
}

void store_get_stats(const struct store *s, struct store_stats *out)
{
	const struct snap *sn = s->cur;
	*out = s->stats;
	out->domains = sn->ndomains;
	out->subscribers = sn->nsubs;
	out->aliases = sn->naliases;
	out->dids = sn->ndids;
	out->servers = sn->plat ? sn->plat->nservers : 0;
	out->groups = sn->plat ? sn->plat->ngroups : 0;
	out->dial_plan_entries = sn->nentries;
	out->bytes = sizeof *s + sizeof *sn + sn->bytes + (sn->plat ? sn->plat->bytes : 0);
}
