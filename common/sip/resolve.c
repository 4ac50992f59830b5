#include "sip/resolve.h"

#include "text.h"

#include <ares.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* DNS record types we ask for or read (RFC 1035, 3596, 2782, 3403). Own
 * names: <arpa/nameser_compat.h> owns T_A and friends as macros. */
enum {
	DNS_A = 1,
	DNS_CNAME = 5,
	DNS_SOA = 6,
	DNS_AAAA = 28,
	DNS_SRV = 33,
	DNS_NAPTR = 35,
};

#define MAX_RRS	       32  /* records kept of one answer */
#define MAX_SVC	       8   /* NAPTR/SRV services tried per resolution */
#define MAX_NAME       253 /* longest DNS name in text form */
#define INFLIGHT_SLOTS 256
#define MAX_BLACKLIST  1024

/* ---- defaults ------------------------------------------------------------ */

#define DEF_TIMEOUT_MS	 2000
#define DEF_TRIES	 2
#define DEF_CACHE	 4096
#define DEF_MAX_TTL	 86400
#define DEF_NEG_TTL	 10
#define DEF_BLACKLIST_MS 30000

/* One cached (or just received) answer: the records of one name and type,
 * or the fact that there are none. Shared by the cache and the resolutions
 * reading it, hence the reference count. */
struct rrset {
	unsigned refs;
	uint16_t type;
	enum sip_resolve_status status; /* OK, NXDOMAIN, NODATA; the rest are
					   failures, never cached */
	const char *why;		/* for error text */
	uint64_t expires;		/* loop time; 0: not cacheable */
	uint32_t hash;
	bool cached;
	struct rrset *hnext, *lprev, *lnext;
	size_t n;
	union {
		struct sip_naptr *naptr;
		struct sip_srv *srv;
		struct in_addr *a;
		struct in6_addr *aaaa;
		void *any;
	} rr;
	char name[];
};

struct sip_resolve_req;
struct hosts_entry;

/* A resolution waiting for one lookup; the answer goes into *slot. */
struct wait {
	struct sip_resolve_req *req;
	struct rrset **slot;
	struct lookup *lookup;
	struct wait *lprev, *lnext; /* the lookup's waiters */
	struct wait *qprev, *qnext; /* the resolution's waits */
};

/* One DNS query in flight. Resolutions that want the same name and type
 * while it runs join it rather than asking again. It outlives cancelled
 * waiters: the answer still goes into the cache. */
struct lookup {
	struct sip_resolver *r;
	uint16_t type;
	uint32_t hash;
	struct lookup *hnext;
	struct wait *waits;
	char name[];
};

struct svc {
	enum sip_transport tp;
	char name[MAX_NAME + 1];
	struct rrset *srv;
};

struct host {
	char name[MAX_NAME + 1];
	struct rrset *a, *aaaa;
};

/* A (transport, host, port) to look addresses up for, in final order. */
struct entry {
	enum sip_transport tp;
	uint16_t port, priority, weight;
	bool srv;
	size_t host;
};

enum phase { PH_NAPTR, PH_SRV, PH_ADDR, PH_DONE };

struct sip_resolve_req {
	struct sip_resolver *r;
	struct sip_resolve_req *prev, *next;
	sip_resolve_cb cb;
	void *arg;
	struct sip_resolve_plan plan;
	enum phase phase;
	unsigned pending;
	struct wait *waits;
	struct rrset *naptr;
	struct svc svc[MAX_SVC];
	size_t nsvc;
	struct host *hosts;
	size_t nhosts, hcap;
	struct entry *entries;
	size_t nentries, ecap;
	/* outcome, delivered from a timer so that the callback never runs
	 * inside sip_resolve or inside c-ares */
	enum sip_resolve_status status;
	struct sip_targets *targets;
	char err[320];
	struct ev_timer deliver;
};

struct failed {
	struct sip_peer peer;
	uint64_t until;
};

struct sip_resolver {
	struct ev_loop *loop;
	ares_channel channel;
	bool channel_ok;
	struct ev_timer timer;
	struct sip_resolver_opts o;
	char *servers, *hosts_path;
	uint64_t rng;

	struct rrset **buckets;
	size_t nbuckets, ncached;
	struct rrset *lru_head, *lru_tail; /* head: most recently used */

	struct lookup *inflight[INFLIGHT_SLOTS];
	struct sip_resolve_req *reqs;
	size_t nreqs;

	struct failed *failed;
	size_t nfailed, failed_cap;

	struct hosts_entry **hostsf;
	size_t nhostsf;

	struct sip_resolver_stats stats;
};

/* ---- small helpers ------------------------------------------------------- */



/* Copies a DNS name as a cache key: lower case, no trailing dot. Returns
 * false when it does not fit a DNS name. */
static bool name_key(char *out, const char *in, size_t len)
{
	if (len && in[len - 1] == '.')
		len--;
	if (len > MAX_NAME)
		return false;
	for (size_t i = 0; i < len; i++)
		out[i] = (char)ascii_lower((unsigned char)in[i]);
	out[len] = 0;
	return true;
}

static uint32_t key_hash(const char *name, uint16_t type)
{
	uint32_t h = 2166136261u ^ type;
	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h;
}

static const char *type_name(uint16_t type)
{
	switch (type) {
	case DNS_A:
		return "A";
	case DNS_AAAA:
		return "AAAA";
	case DNS_SRV:
		return "SRV";
	case DNS_NAPTR:
		return "NAPTR";
	default:
		return "?";
	}
}

/* splitmix64: small, fast, and every seed gives a good sequence. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint16_t default_port(enum sip_transport tp)
{
	return tp == SIP_TP_TLS ? 5061 : 5060;
}

static unsigned tp_mask(unsigned transports)
{
	return transports ? transports & SIP_TP_ALL : SIP_TP_ALL;
}

/* RFC 3263 4.1: UDP for sip, TLS for sips, when nothing else says; TCP
 * when the caller cannot do UDP. */
static enum sip_transport default_transport(bool sips, unsigned mask)
{
	if (sips)
		return SIP_TP_TLS;
	if (mask & SIP_TP_BIT(SIP_TP_UDP))
		return SIP_TP_UDP;
	if (mask & SIP_TP_BIT(SIP_TP_TCP))
		return SIP_TP_TCP;
	return SIP_TP_TLS;
}

const char *sip_resolve_status_name(enum sip_resolve_status s)
{
	switch (s) {
	case SIP_RESOLVE_OK:
		return "ok";
	case SIP_RESOLVE_NXDOMAIN:
		return "nxdomain";
	case SIP_RESOLVE_NODATA:
		return "nodata";
	case SIP_RESOLVE_TIMEOUT:
		return "timeout";
	case SIP_RESOLVE_SERVFAIL:
		return "servfail";
	case SIP_RESOLVE_BADURI:
		return "bad-uri";
	default:
		return "error";
	}
}

/* ---- pure steps ---------------------------------------------------------- */

static bool host_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

int sip_resolve_plan(const struct sip_uri *uri, unsigned transports, struct sip_resolve_plan *plan,
		     char *err, size_t errlen)
{
	memset(plan, 0, sizeof(*plan));
	if (uri->scheme != SIP_URI_SIP && uri->scheme != SIP_URI_SIPS) {
		errbuf_printf(err, errlen, "only sip and sips URIs can be resolved");
		return -1;
	}
	unsigned mask = tp_mask(transports);
	if (!mask) {
		errbuf_printf(err, errlen, "no transport enabled");
		return -1;
	}
	plan->sips = uri->scheme == SIP_URI_SIPS;

	/* maddr wins over the host (RFC 3261 19.1.1); it may be escaped. */
	char buf[MAX_NAME + 3];
	long len;
	if (sip_str_present(uri->maddr) && uri->maddr.len) {
		len = sip_unescape(uri->maddr, buf, sizeof(buf) - 1);
		if (len < 0) {
			errbuf_printf(err, errlen, "maddr too long or badly escaped");
			return -1;
		}
	} else {
		if (uri->host.len > sizeof(buf) - 1) {
			errbuf_printf(err, errlen, "host name too long");
			return -1;
		}
		len = (long)uri->host.len;
		if (len)
			memcpy(buf, uri->host.s, (size_t)len);
	}
	buf[len] = 0;
	const char *h = buf;
	bool bracketed = len >= 2 && buf[0] == '[' && buf[len - 1] == ']';
	if (bracketed) {
		buf[len - 1] = 0;
		h++;
		len -= 2;
	}
	if (len == 0) {
		errbuf_printf(err, errlen, "empty host");
		return -1;
	}

	struct in6_addr a6;
	struct in_addr a4;
	bool numeric = inet_pton(AF_INET, h, &a4) == 1 || inet_pton(AF_INET6, h, &a6) == 1;
	if (numeric) {
		memcpy(plan->host, h, (size_t)len + 1);
	} else if (bracketed) {
		errbuf_printf(err, errlen, "bad IPv6 reference");
		return -1;
	} else {
		if (!name_key(plan->host, h, (size_t)len) || !plan->host[0]) {
			errbuf_printf(err, errlen, "host name too long");
			return -1;
		}
		for (const char *p = plan->host; *p; p++) {
			if (!host_char((unsigned char)*p)) {
				errbuf_printf(err, errlen, "bad character in host \"%s\"", plan->host);
				return -1;
			}
		}
	}

	bool has_tp = sip_str_present(uri->transport) && uri->transport.len;
	enum sip_transport tp;
	if (has_tp) {
		sip_str t = uri->transport;
		if (sip_str_caseeq_lit(t, "udp")) {
			if (plan->sips) {
				errbuf_printf(err, errlen, "sips URI with transport=udp");
				return -1;
			}
			tp = SIP_TP_UDP;
		} else if (sip_str_caseeq_lit(t, "tcp")) {
			/* RFC 3261 26.2.2: sips over TCP means TLS. */
			tp = plan->sips ? SIP_TP_TLS : SIP_TP_TCP;
		} else if (sip_str_caseeq_lit(t, "tls")) {
			tp = SIP_TP_TLS;
		} else {
			errbuf_printf(err, errlen, "transport=%.*s is not supported",
				(int)(t.len > 32 ? 32 : t.len), t.s);
			return -1;
		}
	} else {
		tp = default_transport(plan->sips, mask);
	}
	if (!(mask & SIP_TP_BIT(tp))) {
		errbuf_printf(err, errlen, "%s is needed but not enabled", sip_transport_name(tp));
		return -1;
	}
	plan->transport = tp;
	if (uri->has_port && uri->port == 0) {
		errbuf_printf(err, errlen, "port 0");
		return -1;
	}
	plan->port = uri->has_port ? uri->port : default_port(tp);
	if (numeric)
		plan->step = SIP_STEP_NUMERIC;
	else if (uri->has_port)
		plan->step = SIP_STEP_ADDR;
	else if (has_tp)
		plan->step = SIP_STEP_SRV;
	else
		plan->step = SIP_STEP_NAPTR;
	return 0;
}

static int naptr_cmp(const struct sip_naptr *a, const struct sip_naptr *b)
{
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	if (a->preference != b->preference)
		return a->preference < b->preference ? -1 : 1;
	return 0;
}

size_t sip_naptr_select(struct sip_naptr *v, size_t n, bool sips, unsigned transports)
{
	unsigned mask = tp_mask(transports);
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		struct sip_naptr *x = &v[i];
		int tp;
		if (strcasecmp(x->service, "SIPS+D2T") == 0)
			tp = SIP_TP_TLS;
		else if (!sips && strcasecmp(x->service, "SIP+D2T") == 0)
			tp = SIP_TP_TCP;
		else if (!sips && strcasecmp(x->service, "SIP+D2U") == 0)
			tp = SIP_TP_UDP;
		else
			continue;
		if (strcasecmp(x->flags, "s") != 0 || x->regexp || !x->replacement[0] ||
		    strcmp(x->replacement, ".") == 0 || !(mask & SIP_TP_BIT(tp)))
			continue;
		x->transport = (enum sip_transport)tp;
		if (kept != i)
			v[kept] = *x;
		kept++;
	}
	/* Insertion sort: stable, and there are only a handful. */
	for (size_t i = 1; i < kept; i++) {
		struct sip_naptr t = v[i];
		size_t j = i;
		while (j > 0 && naptr_cmp(&v[j - 1], &t) > 0) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = t;
	}
	return kept;
}

static void srv_swap(struct sip_srv *a, struct sip_srv *b)
{
	if (a != b) {
		struct sip_srv t = *a;
		*a = *b;
		*b = t;
	}
}

void sip_srv_order(struct sip_srv *v, size_t n, uint64_t *rng)
{
	for (size_t i = 1; i < n; i++) {
		struct sip_srv t = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1].priority > t.priority) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = t;
	}
	for (size_t g = 0; g < n;) {
		size_t end = g;
		while (end < n && v[end].priority == v[g].priority)
			end++;
		/* RFC 2782: pick r in [0, sum of weights left]; the first record
		 * whose running sum reaches r goes next. Weight-0 records sit in
		 * front, so they win only when r is 0. */
		for (size_t k = g; k + 1 < end; k++) {
			uint64_t total = 0;
			size_t zeros = 0;
			for (size_t i = k; i < end; i++) {
				total += v[i].weight;
				zeros += v[i].weight == 0;
			}
			size_t pick = k;
			if (total == 0) {
				pick = k + (size_t)(rng_next(rng) % (end - k));
			} else {
				uint64_t r = rng_next(rng) % (total + 1);
				if (r == 0 && zeros) {
					size_t z = (size_t)(rng_next(rng) % zeros);
					for (size_t i = k; i < end; i++)
						if (v[i].weight == 0 && z-- == 0) {
							pick = i;
							break;
						}
				} else {
					uint64_t run = 0;
					for (size_t i = k; i < end; i++) {
						run += v[i].weight;
						if (v[i].weight && run >= r) {
							pick = i;
							break;
						}
					}
				}
			}
			srv_swap(&v[k], &v[pick]);
		}
		g = end;
	}
}

/* ---- targets ------------------------------------------------------------- */

const struct sip_target *sip_targets_next(struct sip_targets *t)
{
	if (!t || t->next >= t->count)
		return NULL;
	return &t->v[t->next++];
}

void sip_targets_free(struct sip_targets *t)
{
	free(t);
}

char *sip_target_format(const struct sip_target *t, char *out, size_t cap)
{
	static const char *const lc[SIP_TP_COUNT] = {"udp", "tcp", "tls"};
	char addr[INET6_ADDRSTRLEN + 8];
	sip_peer_format(&t->peer, addr, sizeof(addr));
	snprintf(out, cap, "%s %s",
		 (unsigned)t->peer.transport < SIP_TP_COUNT ? lc[t->peer.transport] : "?", addr);
	return out;
}

/* ---- DNS messages ---------------------------------------------------------- */

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Skips an encoded name at m[*off]; false when it runs off the end. */
static bool skip_name(const unsigned char *m, size_t len, size_t *off)
{
	size_t o = *off;
	while (o < len) {
		unsigned c = m[o];
		if ((c & 0xc0) == 0xc0) {
			*off = o + 2;
			return o + 2 <= len;
		}
		if (c & 0xc0)
			return false;
		if (c == 0) {
			*off = o + 1;
			return true;
		}
		o += c + 1;
	}
	return false;
}

/* c-ares parses the records but hands out no TTL for NAPTR and SRV, and
 * none for a negative answer; this walk gets them: the lowest TTL in the
 * answer section (CNAMEs included), and RFC 2308's negative TTL from an
 * SOA in the authority section. */
struct ttls {
	bool answer, soa;
	uint32_t answer_ttl, soa_ttl;
};

static bool msg_ttls(const unsigned char *m, size_t len, struct ttls *t)
{
	memset(t, 0, sizeof(*t));
	if (len < 12)
		return false;
	unsigned qd = get16(m + 4), an = get16(m + 6), ns = get16(m + 8);
	size_t off = 12;
	for (unsigned i = 0; i < qd; i++) {
		if (!skip_name(m, len, &off) || off + 4 > len)
			return false;
		off += 4;
	}
	for (unsigned i = 0; i < an + ns; i++) {
		if (!skip_name(m, len, &off) || off + 10 > len)
			return false;
		uint16_t type = get16(m + off);
		uint32_t ttl = get32(m + off + 4);
		size_t rdlen = get16(m + off + 8);
		off += 10;
		if (off + rdlen > len)
			return false;
		if (ttl > 0x7fffffffu) /* RFC 2181 8: treat as zero */
			ttl = 0;
		if (i < an) {
			if (!t->answer || ttl < t->answer_ttl)
				t->answer_ttl = ttl;
			t->answer = true;
		} else if (type == DNS_SOA && rdlen >= 20) {
			uint32_t min = get32(m + off + rdlen - 4);
			t->soa_ttl = ttl < min ? ttl : min;
			t->soa = true;
		}
		off += rdlen;
	}
	return true;
}

static struct rrset *rrset_new(const char *name, uint16_t type, size_t n, size_t rrsize)
{
	size_t nl = strlen(name);
	struct rrset *s = calloc(1, sizeof(*s) + nl + 1);
	if (!s)
		return NULL;
	memcpy(s->name, name, nl + 1);
	s->refs = 1;
	s->type = type;
	s->hash = key_hash(name, type);
	if (n) {
		s->rr.any = calloc(n, rrsize);
		if (!s->rr.any) {
			free(s);
			return NULL;
		}
	}
	return s;
}

static struct rrset *rrset_ref(struct rrset *s)
{
	if (s)
		s->refs++;
	return s;
}

static void rrset_unref(struct rrset *s)
{
	if (s && --s->refs == 0) {
		free(s->rr.any);
		free(s);
	}
}

static enum sip_resolve_status status_of(const struct rrset *s)
{
	return s ? s->status : SIP_RESOLVE_ERROR;
}

static bool is_failure(enum sip_resolve_status st)
{
	return st != SIP_RESOLVE_OK && st != SIP_RESOLVE_NXDOMAIN && st != SIP_RESOLVE_NODATA;
}

static struct rrset *rrset_failure(const char *name, uint16_t type, enum sip_resolve_status st,
				   const char *why)
{
	struct rrset *s = rrset_new(name, type, 0, 0);
	if (s) {
		s->status = st;
		s->why = why;
	}
	return s;
}

static uint32_t clamp_ttl(const struct sip_resolver *r, uint32_t ttl)
{
	if (ttl < r->o.min_ttl)
		ttl = r->o.min_ttl;
	if (ttl > r->o.max_ttl)
		ttl = r->o.max_ttl;
	return ttl;
}

static struct rrset *parse_records(const char *name, uint16_t type, const unsigned char *m, int len,
				   int *ares_rc)
{
	struct rrset *s = NULL;
	int rc;
	if (type == DNS_A) {
		struct ares_addrttl at[MAX_RRS];
		int n = MAX_RRS;
		rc = ares_parse_a_reply(m, len, NULL, at, &n);
		if (rc == ARES_SUCCESS && n > 0 &&
		    (s = rrset_new(name, type, (size_t)n, sizeof(struct in_addr))))
			for (int i = 0; i < n; i++)
				s->rr.a[s->n++] = at[i].ipaddr;
	} else if (type == DNS_AAAA) {
		struct ares_addr6ttl at[MAX_RRS];
		int n = MAX_RRS;
		rc = ares_parse_aaaa_reply(m, len, NULL, at, &n);
		if (rc == ARES_SUCCESS && n > 0 &&
		    (s = rrset_new(name, type, (size_t)n, sizeof(struct in6_addr))))
			for (int i = 0; i < n; i++)
				memcpy(&s->rr.aaaa[s->n++], &at[i].ip6addr,
				       sizeof(struct in6_addr));
	} else if (type == DNS_SRV) {
		struct ares_srv_reply *list = NULL;
		rc = ares_parse_srv_reply(m, len, &list);
		size_t n = 0;
		for (struct ares_srv_reply *x = list; x && n < MAX_RRS; x = x->next)
			n++;
		if (rc == ARES_SUCCESS && n &&
		    (s = rrset_new(name, type, n, sizeof(struct sip_srv)))) {
			for (struct ares_srv_reply *x = list; x && s->n < n; x = x->next) {
				struct sip_srv *v = &s->rr.srv[s->n];
				if (!name_key(v->target, x->host, strlen(x->host)))
					continue;
				v->priority = x->priority;
				v->weight = x->weight;
				v->port = x->port;
				s->n++;
			}
		}
		ares_free_data(list);
	} else {
		struct ares_naptr_reply *list = NULL;
		rc = ares_parse_naptr_reply(m, len, &list);
		size_t n = 0;
		for (struct ares_naptr_reply *x = list; x && n < MAX_RRS; x = x->next)
			n++;
		if (rc == ARES_SUCCESS && n &&
		    (s = rrset_new(name, type, n, sizeof(struct sip_naptr)))) {
			for (struct ares_naptr_reply *x = list; x && s->n < n; x = x->next) {
				struct sip_naptr *v = &s->rr.naptr[s->n];
				const char *fl = (const char *)x->flags,
					   *sv = (const char *)x->service;
				/* Longer than our fields: not one of ours anyway. */
				if (strlen(fl) >= sizeof(v->flags) ||
				    strlen(sv) >= sizeof(v->service) ||
				    !name_key(v->replacement, x->replacement,
					      strlen(x->replacement)))
					continue;
				strcpy(v->flags, fl);
				strcpy(v->service, sv);
				v->regexp = x->regexp && x->regexp[0];
				v->order = x->order;
				v->preference = x->preference;
				s->n++;
			}
		}
		ares_free_data(list);
	}
	*ares_rc = rc;
	return s;
}

/* Turns what c-ares reported for a query into an rrset (NULL: no memory),
 * with its expiry set when it may be cached. */
static struct rrset *rrset_from_answer(struct sip_resolver *r, const char *name, uint16_t type,
				       int status, const unsigned char *m, int len)
{
	uint64_t now = ev_now(r->loop);
	struct ttls t = {0};
	struct rrset *s;
	switch (status) {
	case ARES_SUCCESS: {
		int rc;
		if (!msg_ttls(m, (size_t)len, &t))
			return rrset_failure(name, type, SIP_RESOLVE_ERROR, "malformed answer");
		s = parse_records(name, type, m, len, &rc);
		if (s && s->n) {
			s->status = SIP_RESOLVE_OK;
			uint32_t ttl = clamp_ttl(r, t.answer_ttl);
			s->expires = ttl ? now + (uint64_t)ttl * 1000 : 0;
			return s;
		}
		rrset_unref(s);
		if (rc == ARES_ENOMEM)
			return NULL;
		if (rc != ARES_SUCCESS && rc != ARES_ENODATA)
			return rrset_failure(name, type, SIP_RESOLVE_ERROR, "malformed answer");
		/* Answers, but none of the type asked (a CNAME to nowhere). */
		s = rrset_failure(name, type, SIP_RESOLVE_NODATA, "no records");
		break;
	}
	case ARES_ENODATA:
		s = rrset_failure(name, type, SIP_RESOLVE_NODATA, "no records");
		break;
	case ARES_ENOTFOUND:
		s = rrset_failure(name, type, SIP_RESOLVE_NXDOMAIN, "no such name");
		break;
	case ARES_ETIMEOUT:
		return rrset_failure(name, type, SIP_RESOLVE_TIMEOUT,
				     "no answer from the DNS server");
	case ARES_ECONNREFUSED:
		/* c-ares 1.18 also ends here when every server said REFUSED. */
		return rrset_failure(name, type, SIP_RESOLVE_TIMEOUT,
				     "no DNS server could be used (unreachable or refusing)");
	case ARES_ESERVFAIL:
		return rrset_failure(name, type, SIP_RESOLVE_SERVFAIL, "server failure");
	case ARES_EREFUSED:
		return rrset_failure(name, type, SIP_RESOLVE_SERVFAIL, "query refused");
	case ARES_ENOTIMP:
		return rrset_failure(name, type, SIP_RESOLVE_SERVFAIL,
				     "not implemented by the server");
	case ARES_EFORMERR:
		return rrset_failure(name, type, SIP_RESOLVE_SERVFAIL,
				     "server reports a format error");
	case ARES_ENOMEM:
		return NULL;
	default:
		return rrset_failure(name, type, SIP_RESOLVE_ERROR, ares_strerror(status));
	}
	/* Negative answer: RFC 2308's SOA TTL when there is one, capped. */
	if (s) {
		if (m && len > 0)
			msg_ttls(m, (size_t)len, &t);
		uint32_t ttl =
		    t.soa && t.soa_ttl < r->o.negative_ttl ? t.soa_ttl : r->o.negative_ttl;
		s->expires = ttl ? now + (uint64_t)ttl * 1000 : 0;
	}
	return s;
}

/* ---- the cache: hash table + LRU list -------------------------------------- */

static void lru_unlink(struct sip_resolver *r, struct rrset *s)
{
	if (s->lprev)
		s->lprev->lnext = s->lnext;
	else
		r->lru_head = s->lnext;
	if (s->lnext)
		s->lnext->lprev = s->lprev;
	else
		r->lru_tail = s->lprev;
	s->lprev = s->lnext = NULL;
}

static void lru_push(struct sip_resolver *r, struct rrset *s)
{
	s->lprev = NULL;
	s->lnext = r->lru_head;
	if (r->lru_head)
		r->lru_head->lprev = s;
	r->lru_head = s;
	if (!r->lru_tail)
		r->lru_tail = s;
}

static void cache_remove(struct sip_resolver *r, struct rrset *s)
{
	struct rrset **pp = &r->buckets[s->hash & (r->nbuckets - 1)];
	while (*pp && *pp != s)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = s->hnext;
	lru_unlink(r, s);
	s->cached = false;
	r->ncached--;
	rrset_unref(s);
}

static struct rrset *cache_find(struct sip_resolver *r, const char *name, uint16_t type)
{
	uint32_t h = key_hash(name, type);
	for (struct rrset *s = r->buckets[h & (r->nbuckets - 1)]; s; s = s->hnext)
		if (s->hash == h && s->type == type && strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* A live entry, made most recently used; expired ones are dropped here. */
static struct rrset *cache_get(struct sip_resolver *r, const char *name, uint16_t type)
{
	struct rrset *s = cache_find(r, name, type);
	if (!s)
		return NULL;
	if (s->expires <= ev_now(r->loop)) {
		cache_remove(r, s);
		return NULL;
	}
	lru_unlink(r, s);
	lru_push(r, s);
	return s;
}

static void cache_put(struct sip_resolver *r, struct rrset *s)
{
	if (!s || !s->expires || s->cached || is_failure(s->status))
		return;
	struct rrset *old = cache_find(r, s->name, s->type);
	if (old)
		cache_remove(r, old);
	/* Room first: an expired tail goes quietly, a live one is evicted. */
	while (r->ncached >= r->o.cache_entries && r->lru_tail) {
		if (r->lru_tail->expires > ev_now(r->loop))
			r->stats.evictions++;
		cache_remove(r, r->lru_tail);
	}
	size_t b = s->hash & (r->nbuckets - 1);
	s->hnext = r->buckets[b];
	r->buckets[b] = s;
	lru_push(r, s);
	s->cached = true;
	r->ncached++;
	rrset_ref(s);
}

static void cache_clear(struct sip_resolver *r)
{
	while (r->lru_head)
		cache_remove(r, r->lru_head);
}

/* ---- c-ares on our loop ------------------------------------------------------ */

static void rearm(struct sip_resolver *r)
{
	struct timeval tv, *t = ares_timeout(r->channel, NULL, &tv);
	if (!t) {
		ev_timer_stop(r->loop, &r->timer);
		return;
	}
	/* Rounded up: a timer a hair early would find nothing to do and
	 * spin. */
	uint64_t ms = (uint64_t)t->tv_sec * 1000 + ((uint64_t)t->tv_usec + 999) / 1000;
	ev_timer_start(r->loop, &r->timer, ms);
}

static void on_ares_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)loop;
	struct sip_resolver *r = arg;
	ares_process_fd(r->channel, events & EV_READ ? fd : ARES_SOCKET_BAD,
			events & EV_WRITE ? fd : ARES_SOCKET_BAD);
	rearm(r);
}

static void on_ares_timer(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	struct sip_resolver *r = arg;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(r);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct sip_resolver *r = data;
	unsigned ev = (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
	if (!ev) {
		ev_io_remove(r->loop, fd);
		return;
	}
	/* If the loop cannot watch it, the query's timeout still ends it. */
	if (ev_io_modify(r->loop, fd, ev) < 0)
		ev_io_add(r->loop, fd, ev, on_ares_io, r);
}

/* ---- lookups ------------------------------------------------------------------ */

static void req_advance(struct sip_resolve_req *q);

/* Hands an answer (NULL: out of memory) to one waiting resolution. */
static void wait_done(struct sip_resolve_req *q, struct rrset **slot, struct rrset *s)
{
	*slot = rrset_ref(s);
	if (--q->pending == 0)
		req_advance(q);
}

static void wait_unlink(struct wait *w)
{
	if (w->lookup) {
		if (w->lprev)
			w->lprev->lnext = w->lnext;
		else
			w->lookup->waits = w->lnext;
		if (w->lnext)
			w->lnext->lprev = w->lprev;
	}
	struct sip_resolve_req *q = w->req;
	if (w->qprev)
		w->qprev->qnext = w->qnext;
	else
		q->waits = w->qnext;
	if (w->qnext)
		w->qnext->qprev = w->qprev;
}

static void inflight_remove(struct sip_resolver *r, struct lookup *l)
{
	struct lookup **pp = &r->inflight[l->hash % INFLIGHT_SLOTS];
	while (*pp && *pp != l)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = l->hnext;
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	(void)timeouts;
	struct lookup *l = arg;
	struct sip_resolver *r = l->r;
	inflight_remove(r, l);
	if (status == ARES_EDESTRUCTION) {
		/* The resolver is going away; its resolutions are gone already. */
		while (l->waits) {
			struct wait *w = l->waits;
			wait_unlink(w);
			free(w);
		}
		free(l);
		return;
	}
	struct rrset *s = rrset_from_answer(r, l->name, l->type, status, abuf, alen);
	cache_put(r, s);
	/* Detached first: handing out the answer may start new lookups, even
	 * one for this very name. */
	struct wait *w = l->waits;
	l->waits = NULL;
	while (w) {
		struct wait *next = w->lnext;
		struct sip_resolve_req *q = w->req;
		struct rrset **slot = w->slot;
		w->lookup = NULL;
		wait_unlink(w);
		free(w);
		wait_done(q, slot, s);
		w = next;
	}
	rrset_unref(s);
	free(l);
}

/* ---- the hosts file ---------------------------------------------------------- */

struct hosts_entry {
	int family;
	union {
		struct in_addr a;
		struct in6_addr aaaa;
	} addr;
	char name[];
};

#define MAX_HOSTS_ENTRIES 4096

static void hosts_clear(struct sip_resolver *r)
{
	for (size_t i = 0; i < r->nhostsf; i++)
		free(r->hostsf[i]);
	free(r->hostsf);
	r->hostsf = NULL;
	r->nhostsf = 0;
}

static void hosts_add(struct sip_resolver *r, int family, const void *addr, const char *name,
		      size_t *cap)
{
	char key[MAX_NAME + 1];
	if (!name_key(key, name, strlen(name)) || r->nhostsf == MAX_HOSTS_ENTRIES)
		return;
	if (r->nhostsf == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct hosts_entry **n = realloc(r->hostsf, ncap * sizeof(*n));
		if (!n)
			return;
		r->hostsf = n;
		*cap = ncap;
	}
	size_t nl = strlen(key);
	struct hosts_entry *e = calloc(1, sizeof(*e) + nl + 1);
	if (!e)
		return;
	e->family = family;
	memcpy(&e->addr, addr, family == AF_INET ? sizeof(e->addr.a) : sizeof(e->addr.aaaa));
	memcpy(e->name, key, nl + 1);
	r->hostsf[r->nhostsf++] = e;
}

/* Reads "address name [alias...]" lines, as the C library would, so that
 * localhost and names an operator pinned there need no DNS. */
static void hosts_load(struct sip_resolver *r)
{
	hosts_clear(r);
	const char *path = r->o.hosts_file ? r->o.hosts_file : "/etc/hosts";
	FILE *f = *path ? fopen(path, "re") : NULL;
	if (!f)
		return;
	char line[1024];
	size_t cap = 0;
	while (fgets(line, sizeof(line), f)) {
		char *hash = strchr(line, '#'), *save = NULL;
		if (hash)
			*hash = 0;
		const char *addr = strtok_r(line, " \t\r\n", &save);
		struct in6_addr a6;
		struct in_addr a4;
		int family;
		if (!addr)
			continue;
		if (inet_pton(AF_INET, addr, &a4) == 1)
			family = AF_INET;
		else if (inet_pton(AF_INET6, addr, &a6) == 1)
			family = AF_INET6;
		else
			continue;
		for (const char *n; (n = strtok_r(NULL, " \t\r\n", &save));)
			hosts_add(r, family,
				  family == AF_INET ? (const void *)&a4 : (const void *)&a6, n,
				  &cap);
	}
	fclose(f);
}

static bool hosts_has(const struct sip_resolver *r, const char *name)
{
	for (size_t i = 0; i < r->nhostsf; i++)
		if (strcmp(r->hostsf[i]->name, name) == 0)
			return true;
	return false;
}

/* The hosts file's addresses of name for an A or AAAA lookup, or NULL. */
static struct rrset *hosts_lookup(struct sip_resolver *r, const char *name, uint16_t type)
{
	int family = type == DNS_A ? AF_INET : AF_INET6;
	size_t n = 0, sz = type == DNS_A ? sizeof(struct in_addr) : sizeof(struct in6_addr);
	for (size_t i = 0; i < r->nhostsf; i++)
		n += r->hostsf[i]->family == family && strcmp(r->hostsf[i]->name, name) == 0;
	if (!hosts_has(r, name))
		return NULL;
	if (n > MAX_RRS)
		n = MAX_RRS;
	/* A name the file knows only in the other family: NODATA, and no
	 * DNS either. */
	struct rrset *s = rrset_new(name, type, n, sz);
	if (!s)
		return NULL;
	for (size_t i = 0; i < r->nhostsf && s->n < n; i++) {
		const struct hosts_entry *e = r->hostsf[i];
		if (e->family == family && strcmp(e->name, name) == 0)
			memcpy((char *)s->rr.any + s->n++ * sz, &e->addr, sz);
	}
	s->status = n ? SIP_RESOLVE_OK : SIP_RESOLVE_NODATA;
	s->why = n ? "" : "no records (hosts file)";
	return s;
}

/* Gets (name, type) into *slot for q: from the hosts file, the cache, a query
 * already in flight, or a new query. The answer may come at once. */
static void need(struct sip_resolve_req *q, const char *name, uint16_t type, struct rrset **slot)
{
	struct sip_resolver *r = q->r;
	q->pending++;
	struct rrset *s;
	if ((type == DNS_A || type == DNS_AAAA) && (s = hosts_lookup(r, name, type))) {
		wait_done(q, slot, s);
		rrset_unref(s);
		return;
	}
	if ((s = cache_get(r, name, type))) {
		r->stats.cache_hits++;
		wait_done(q, slot, s);
		return;
	}
	r->stats.cache_misses++;
	uint32_t h = key_hash(name, type);
	struct lookup *l;
	for (l = r->inflight[h % INFLIGHT_SLOTS]; l; l = l->hnext)
		if (l->hash == h && l->type == type && strcmp(l->name, name) == 0)
			break;
	bool ask = !l;
	if (ask) {
		size_t nl = strlen(name);
		l = calloc(1, sizeof(*l) + nl + 1);
		if (!l) {
			wait_done(q, slot, NULL);
			return;
		}
		l->r = r;
		l->type = type;
		l->hash = h;
		memcpy(l->name, name, nl + 1);
		l->hnext = r->inflight[h % INFLIGHT_SLOTS];
		r->inflight[h % INFLIGHT_SLOTS] = l;
	} else {
		r->stats.joined++;
	}
	struct wait *w = calloc(1, sizeof(*w));
	if (!w) {
		if (ask) {
			inflight_remove(r, l);
			free(l);
		}
		wait_done(q, slot, NULL);
		return;
	}
	*w = (struct wait){
	    .req = q, .slot = slot, .lookup = l, .lnext = l->waits, .qnext = q->waits};
	if (l->waits)
		l->waits->lprev = w;
	l->waits = w;
	if (q->waits)
		q->waits->qprev = w;
	q->waits = w;
	if (ask) {
		r->stats.queries++;
		/* May answer before returning (no servers, no memory): the
		 * waiter is linked already, and l must not be touched after. */
		ares_query(r->channel, name, 1 /* IN */, type, on_answer, l);
		rearm(r);
	}
}

/* ---- resolutions ---------------------------------------------------------------- */

static void on_deliver(struct ev_loop *loop, struct ev_timer *t, void *arg);

static void req_unlink(struct sip_resolve_req *q)
{
	struct sip_resolver *r = q->r;
	if (q->prev)
		q->prev->next = q->next;
	else
		r->reqs = q->next;
	if (q->next)
		q->next->prev = q->prev;
	r->nreqs--;
}

static void req_free(struct sip_resolve_req *q)
{
	while (q->waits) {
		struct wait *w = q->waits;
		wait_unlink(w);
		free(w);
	}
	ev_timer_stop(q->r->loop, &q->deliver);
	rrset_unref(q->naptr);
	for (size_t i = 0; i < q->nsvc; i++)
		rrset_unref(q->svc[i].srv);
	for (size_t i = 0; i < q->nhosts; i++) {
		rrset_unref(q->hosts[i].a);
		rrset_unref(q->hosts[i].aaaa);
	}
	free(q->hosts);
	free(q->entries);
	sip_targets_free(q->targets);
	free(q);
}

static void finish(struct sip_resolve_req *q, enum sip_resolve_status st, struct sip_targets *t)
{
	q->phase = PH_DONE;
	q->status = st;
	q->targets = t;
	ev_timer_start(q->r->loop, &q->deliver, 0);
}

static void fail_with(struct sip_resolve_req *q, const struct rrset *s, const char *name,
		      uint16_t type)
{
	snprintf(q->err, sizeof(q->err), "%s %s: %s", type_name(type), s ? s->name : name,
		 s ? s->why : "out of memory");
	finish(q, status_of(s), NULL);
}

static void on_deliver(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	struct sip_resolve_req *q = arg;
	struct sip_targets *targets = q->targets;
	q->targets = NULL;
	req_unlink(q);
	q->cb(q->arg, targets, q->status, q->status == SIP_RESOLVE_OK ? "" : q->err);
	req_free(q);
}

static void phase_begin(struct sip_resolve_req *q, enum phase ph)
{
	q->phase = ph;
	q->pending = 1; /* held until every lookup is asked, so that answers
			   coming at once do not end the phase early */
}

static void phase_end(struct sip_resolve_req *q)
{
	if (--q->pending == 0)
		req_advance(q);
}

static void add_svc(struct sip_resolve_req *q, enum sip_transport tp, const char *name)
{
	if (q->nsvc == MAX_SVC || strlen(name) > MAX_NAME)
		return;
	struct svc *s = &q->svc[q->nsvc++];
	s->tp = tp;
	strcpy(s->name, name);
	s->srv = NULL;
}

static void add_srv_name(struct sip_resolve_req *q, enum sip_transport tp)
{
	/* RFC 3263 4.1: "_sips" for TLS, also for a sip URI. */
	char name[300];
	snprintf(name, sizeof(name), "%s.%s.%s", tp == SIP_TP_TLS ? "_sips" : "_sip",
		 tp == SIP_TP_UDP ? "_udp" : "_tcp", q->plan.host);
	add_svc(q, tp, name);
}

/* Entries and hosts are only added before the address phase asks anything,
 * so the lookup slots pointing into hosts[] never move under a wait. */
static bool add_entry(struct sip_resolve_req *q, enum sip_transport tp, const char *host,
		      uint16_t port, uint16_t prio, uint16_t weight, bool srv)
{
	size_t h;
	for (h = 0; h < q->nhosts; h++)
		if (strcmp(q->hosts[h].name, host) == 0)
			break;
	if (h == q->nhosts) {
		if (q->nhosts == q->hcap) {
			size_t cap = q->hcap ? q->hcap * 2 : 4;
			struct host *n = realloc(q->hosts, cap * sizeof(*n));
			if (!n)
				return false;
			q->hosts = n;
			q->hcap = cap;
		}
		struct host *x = &q->hosts[q->nhosts++];
		memset(x, 0, sizeof(*x));
		strcpy(x->name, host);
	}
	if (q->nentries == q->ecap) {
		size_t cap = q->ecap ? q->ecap * 2 : 8;
		struct entry *n = realloc(q->entries, cap * sizeof(*n));
		if (!n)
			return false;
		q->entries = n;
		q->ecap = cap;
	}
	q->entries[q->nentries++] = (struct entry){tp, port, prio, weight, srv, h};
	return true;
}

static void start_srv(struct sip_resolve_req *q)
{
	phase_begin(q, PH_SRV);
	for (size_t i = 0; i < q->nsvc; i++)
		need(q, q->svc[i].name, DNS_SRV, &q->svc[i].srv);
	phase_end(q);
}

static void start_addr(struct sip_resolve_req *q)
{
	enum sip_resolve_family f = q->r->o.family;
	phase_begin(q, PH_ADDR);
	for (size_t i = 0; i < q->nhosts; i++) {
		if (f != SIP_RESOLVE_V6_ONLY)
			need(q, q->hosts[i].name, DNS_A, &q->hosts[i].a);
		if (f != SIP_RESOLVE_V4_ONLY)
			need(q, q->hosts[i].name, DNS_AAAA, &q->hosts[i].aaaa);
	}
	phase_end(q);
}

/* No SRV to go by: the host itself, on the port of the transport. */
static void addr_fallback(struct sip_resolve_req *q)
{
	enum sip_transport tp = q->plan.transport;
	if (!add_entry(q, tp, q->plan.host, default_port(tp), 0, 0, false)) {
		fail_with(q, NULL, q->plan.host, DNS_A);
		return;
	}
	start_addr(q);
}

static void after_naptr(struct sip_resolve_req *q)
{
	struct rrset *s = q->naptr;
	enum sip_resolve_status st = status_of(s);
	if (is_failure(st)) {
		fail_with(q, s, q->plan.host, DNS_NAPTR);
		return;
	}
	if (st == SIP_RESOLVE_OK) {
		struct sip_naptr *v = malloc(s->n * sizeof(*v));
		if (!v) {
			fail_with(q, NULL, q->plan.host, DNS_NAPTR);
			return;
		}
		memcpy(v, s->rr.naptr, s->n * sizeof(*v));
		size_t n = sip_naptr_select(v, s->n, q->plan.sips, q->r->o.transports);
		for (size_t i = 0; i < n; i++)
			add_svc(q, v[i].transport, v[i].replacement);
		/* Should no SRV answer, the host is tried over the transport
		 * the NAPTR chose (RFC 3263 4.2). */
		if (n)
			q->plan.transport = v[0].transport;
		free(v);
	}
	if (q->nsvc == 0) {
		/* No usable NAPTR: the SRV of every transport we have, the
		 * secure one first. */
		unsigned mask = q->r->o.transports;
		if (mask & SIP_TP_BIT(SIP_TP_TLS))
			add_srv_name(q, SIP_TP_TLS);
		if (!q->plan.sips && (mask & SIP_TP_BIT(SIP_TP_TCP)))
			add_srv_name(q, SIP_TP_TCP);
		if (!q->plan.sips && (mask & SIP_TP_BIT(SIP_TP_UDP)))
			add_srv_name(q, SIP_TP_UDP);
	}
	start_srv(q);
}

static void after_srv(struct sip_resolve_req *q)
{
	bool answered = false, positive = false;
	const struct svc *failed = NULL;
	for (size_t i = 0; i < q->nsvc; i++) {
		struct svc *sv = &q->svc[i];
		struct rrset *s = sv->srv;
		enum sip_resolve_status st = status_of(s);
		if (is_failure(st)) {
			if (!failed)
				failed = sv;
			continue;
		}
		answered = true;
		if (st != SIP_RESOLVE_OK)
			continue;
		positive = true;
		struct sip_srv v[MAX_RRS];
		size_t n = s->n;
		memcpy(v, s->rr.srv, n * sizeof(v[0]));
		sip_srv_order(v, n, &q->r->rng);
		for (size_t k = 0; k < n; k++) {
			/* RFC 2782: a target of "." means "not here". */
			if (!v[k].target[0] || strcmp(v[k].target, ".") == 0)
				continue;
			if (!add_entry(q, sv->tp, v[k].target, v[k].port, v[k].priority,
				       v[k].weight, true)) {
				fail_with(q, NULL, v[k].target, DNS_A);
				return;
			}
		}
	}
	if (q->nentries) {
		start_addr(q);
	} else if (!answered && failed) {
		fail_with(q, failed->srv, failed->name, DNS_SRV);
	} else if (positive) {
		snprintf(q->err, sizeof(q->err), "SRV %s: service not available", q->svc[0].name);
		finish(q, SIP_RESOLVE_NODATA, NULL);
	} else {
		addr_fallback(q);
	}
}

static bool fill_peer(struct sip_peer *p, enum sip_transport tp, int family, const void *addr,
		      uint16_t port)
{
	memset(p, 0, sizeof(*p));
	p->transport = tp;
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&p->addr;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, addr, sizeof(s->sin_addr));
		p->addrlen = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&p->addr;
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		memcpy(&s->sin6_addr, addr, sizeof(s->sin6_addr));
		p->addrlen = sizeof(*s);
	}
	return true;
}

static struct sip_targets *targets_new(const char *domain)
{
	struct sip_targets *t =
	    calloc(1, sizeof(*t) + SIP_RESOLVE_MAX_TARGETS * sizeof(struct sip_target));
	if (t)
		snprintf(t->domain, sizeof(t->domain), "%s", domain);
	return t;
}

static void targets_add(struct sip_targets *t, const struct sip_peer *p, const char *name,
			const struct entry *e)
{
	if (t->count == SIP_RESOLVE_MAX_TARGETS)
		return;
	for (size_t i = 0; i < t->count; i++)
		if (sip_peer_equal(&t->v[i].peer, p))
			return;
	struct sip_target *x = &t->v[t->count++];
	x->peer = *p;
	x->priority = e ? e->priority : 0;
	x->weight = e ? e->weight : 0;
	x->srv = e && e->srv;
	snprintf(x->name, sizeof(x->name), "%s", name);
}

/* Blacklisted targets go last, each group keeping its order; then the
 * list is trimmed to its size. */
static struct sip_targets *targets_finish(struct sip_resolver *r, struct sip_targets *t)
{
	size_t good = 0;
	for (size_t i = 0; i < t->count; i++)
		t->v[i].blacklisted = sip_resolver_is_failed(r, &t->v[i].peer);
	for (size_t i = 0; i < t->count; i++) {
		if (t->v[i].blacklisted)
			continue;
		struct sip_target x = t->v[i];
		memmove(&t->v[good + 1], &t->v[good], (i - good) * sizeof(x));
		t->v[good++] = x;
	}
	struct sip_targets *n = realloc(t, sizeof(*t) + t->count * sizeof(struct sip_target));
	return n ? n : t;
}

static void after_addr(struct sip_resolve_req *q)
{
	struct sip_resolver *r = q->r;
	struct sip_targets *t = targets_new(q->plan.host);
	if (!t) {
		fail_with(q, NULL, q->plan.host, DNS_A);
		return;
	}
	bool v6first = r->o.family == SIP_RESOLVE_PREFER_V6;
	for (size_t i = 0; i < q->nentries; i++) {
		const struct entry *e = &q->entries[i];
		const struct host *h = &q->hosts[e->host];
		for (int pass = 0; pass < 2; pass++) {
			const struct rrset *s = (pass == 0) != v6first ? h->a : h->aaaa;
			if (status_of(s) != SIP_RESOLVE_OK)
				continue;
			for (size_t k = 0; k < s->n; k++) {
				struct sip_peer p;
				if (s->type == DNS_A)
					fill_peer(&p, e->tp, AF_INET, &s->rr.a[k], e->port);
				else
					fill_peer(&p, e->tp, AF_INET6, &s->rr.aaaa[k], e->port);
				targets_add(t, &p, h->name, e);
			}
		}
	}
	if (t->count) {
		finish(q, SIP_RESOLVE_OK, targets_finish(r, t));
		return;
	}
	sip_targets_free(t);
	/* Nothing: say why. A failure beats "no records", which beats "no
	 * such name" (one name existing is the more useful news). */
	const struct rrset *why = NULL;
	int rank = -1;
	for (size_t i = 0; i < q->nhosts; i++) {
		const struct rrset *pair[2] = {q->hosts[i].a, q->hosts[i].aaaa};
		for (int k = 0; k < 2; k++) {
			const struct rrset *s = pair[k];
			if ((r->o.family == SIP_RESOLVE_V6_ONLY && k == 0) ||
			    (r->o.family == SIP_RESOLVE_V4_ONLY && k == 1))
				continue;
			enum sip_resolve_status st = status_of(s);
			int rk = st == SIP_RESOLVE_NXDOMAIN ? 0 : st == SIP_RESOLVE_NODATA ? 1 : 2;
			if (rk > rank) {
				rank = rk;
				why = s;
			}
		}
	}
	if (!why) {
		fail_with(q, NULL, q->plan.host, DNS_A);
		return;
	}
	const char *tn = r->o.family == SIP_RESOLVE_V4_ONLY   ? "A"
			 : r->o.family == SIP_RESOLVE_V6_ONLY ? "AAAA"
							      : "A/AAAA";
	if (is_failure(why->status))
		tn = type_name(why->type);
	snprintf(q->err, sizeof(q->err), "%s %s: %s", tn, why->name, why->why);
	finish(q, why->status, NULL);
}

static void req_advance(struct sip_resolve_req *q)
{
	switch (q->phase) {
	case PH_NAPTR:
		after_naptr(q);
		break;
	case PH_SRV:
		after_srv(q);
		break;
	case PH_ADDR:
		after_addr(q);
		break;
	case PH_DONE:
		break;
	}
}

static void start_numeric(struct sip_resolve_req *q)
{
	struct sip_peer p;
	struct sip_targets *t = targets_new(q->plan.host);
	if (!t || sip_peer_from_numeric(&p, q->plan.transport, q->plan.host, strlen(q->plan.host),
					q->plan.port) < 0) {
		sip_targets_free(t);
		snprintf(q->err, sizeof(q->err), "%s: %s", q->plan.host,
			 t ? "bad address" : "out of memory");
		finish(q, t ? SIP_RESOLVE_BADURI : SIP_RESOLVE_ERROR, NULL);
		return;
	}
	targets_add(t, &p, q->plan.host, NULL);
	finish(q, SIP_RESOLVE_OK, targets_finish(q->r, t));
}

struct sip_resolve_req *sip_resolve(struct sip_resolver *r, const struct sip_uri *uri,
				    sip_resolve_cb cb, void *arg)
{
	struct sip_resolve_req *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	ev_timer_init(&q->deliver, on_deliver, q);
	q->next = r->reqs;
	if (r->reqs)
		r->reqs->prev = q;
	r->reqs = q;
	r->nreqs++;
	if (sip_resolve_plan(uri, r->o.transports, &q->plan, q->err, sizeof(q->err)) < 0) {
		finish(q, SIP_RESOLVE_BADURI, NULL);
		return q;
	}
	/* A name from the hosts file has no DNS records to look for. */
	if ((q->plan.step == SIP_STEP_SRV || q->plan.step == SIP_STEP_NAPTR) &&
	    hosts_has(r, q->plan.host)) {
		addr_fallback(q);
		return q;
	}
	switch (q->plan.step) {
	case SIP_STEP_NUMERIC:
		start_numeric(q);
		break;
	case SIP_STEP_ADDR:
		if (!add_entry(q, q->plan.transport, q->plan.host, q->plan.port, 0, 0, false))
			fail_with(q, NULL, q->plan.host, DNS_A);
		else
			start_addr(q);
		break;
	case SIP_STEP_SRV:
		add_srv_name(q, q->plan.transport);
		start_srv(q);
		break;
	case SIP_STEP_NAPTR:
		phase_begin(q, PH_NAPTR);
		need(q, q->plan.host, DNS_NAPTR, &q->naptr);
		phase_end(q);
		break;
	}
	return q;
}

void sip_resolve_cancel(struct sip_resolve_req *q)
{
	if (!q)
		return;
	req_unlink(q);
	req_free(q);
}

struct sync_result {
	bool done;
	enum sip_resolve_status status;
	struct sip_targets *targets;
	char *err;
	size_t errlen;
};

static void on_sync(void *arg, struct sip_targets *targets, enum sip_resolve_status status,
		    const char *err)
{
	struct sync_result *res = arg;
	res->done = true;
	res->status = status;
	res->targets = targets;
	errbuf_printf(res->err, res->errlen, "%s", err);
}

enum sip_resolve_status sip_resolve_sync(struct sip_resolver *r, const struct sip_uri *uri,
					 struct sip_targets **out, char *err, size_t errlen)
{
	struct sync_result res = {.err = err, .errlen = errlen};
	*out = NULL;
	errbuf_printf(err, errlen, "%s", "");
	struct sip_resolve_req *q = sip_resolve(r, uri, on_sync, &res);
	if (!q) {
		errbuf_printf(err, errlen, "out of memory");
		return SIP_RESOLVE_ERROR;
	}
	while (!res.done) {
		if (ev_run_once(r->loop, 1000) < 0 && errno != EINTR) {
			sip_resolve_cancel(q);
			errbuf_printf(err, errlen, "event loop failed: %s", strerror(errno));
			return SIP_RESOLVE_ERROR;
		}
	}
	*out = res.targets;
	return res.status;
}

/* ---- failed targets ------------------------------------------------------------- */

static void failed_expire(struct sip_resolver *r)
{
	uint64_t now = ev_now(r->loop);
	for (size_t i = 0; i < r->nfailed;) {
		if (r->failed[i].until <= now)
			r->failed[i] = r->failed[--r->nfailed];
		else
			i++;
	}
}

void sip_resolver_mark_failed(struct sip_resolver *r, const struct sip_peer *peer, uint32_t ms)
{
	uint64_t until = ev_now(r->loop) + (ms ? ms : r->o.blacklist_ms);
	failed_expire(r);
	for (size_t i = 0; i < r->nfailed; i++) {
		if (sip_peer_equal(&r->failed[i].peer, peer)) {
			if (until > r->failed[i].until)
				r->failed[i].until = until;
			return;
		}
	}
	if (r->nfailed == r->failed_cap) {
		if (r->failed_cap < MAX_BLACKLIST) {
			size_t cap = r->failed_cap ? r->failed_cap * 2 : 16;
			struct failed *n = realloc(r->failed, cap * sizeof(*n));
			if (n) {
				r->failed = n;
				r->failed_cap = cap;
			}
		}
		if (r->nfailed == r->failed_cap) {
			/* Full: the mark that would end first makes room. */
			size_t soonest = 0;
			for (size_t i = 1; i < r->nfailed; i++)
				if (r->failed[i].until < r->failed[soonest].until)
					soonest = i;
			if (!r->nfailed)
				return;
			r->failed[soonest] = r->failed[--r->nfailed];
		}
	}
	r->failed[r->nfailed].peer = *peer;
	r->failed[r->nfailed].peer.conn_id = 0;
	r->failed[r->nfailed].until = until;
	r->nfailed++;
}

bool sip_resolver_is_failed(struct sip_resolver *r, const struct sip_peer *peer)
{
	failed_expire(r);
	for (size_t i = 0; i < r->nfailed; i++)
		if (sip_peer_equal(&r->failed[i].peer, peer))
			return true;
	return false;
}

/* ---- the resolver ----------------------------------------------------------------- */

static void fill_defaults(struct sip_resolver_opts *o, const struct sip_resolver_opts *in)
{
	if (in)
		*o = *in;
	else
		memset(o, 0, sizeof(*o));
	if (!o->timeout_ms)
		o->timeout_ms = DEF_TIMEOUT_MS;
	if (!o->tries)
		o->tries = DEF_TRIES;
	if (!o->cache_entries)
		o->cache_entries = DEF_CACHE;
	if (!o->max_ttl)
		o->max_ttl = DEF_MAX_TTL;
	if (!o->negative_ttl)
		o->negative_ttl = DEF_NEG_TTL;
	if (!o->blacklist_ms)
		o->blacklist_ms = DEF_BLACKLIST_MS;
	o->transports = tp_mask(o->transports);
}

static int channel_init(ares_channel *ch, const struct sip_resolver_opts *o, void *state_arg,
			char *err, size_t errlen)
{
	struct ares_options ao;
	memset(&ao, 0, sizeof(ao));
	int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS;
	ao.timeout = (int)o->timeout_ms;
	ao.tries = (int)o->tries;
	ao.flags = ARES_FLAG_NOSEARCH;
	if (state_arg) {
		mask |= ARES_OPT_SOCK_STATE_CB;
		ao.sock_state_cb = on_sock_state;
		ao.sock_state_cb_data = state_arg;
	}
	int rc = ares_init_options(ch, &ao, mask);
	if (rc != ARES_SUCCESS) {
		errbuf_printf(err, errlen, "c-ares: %s", ares_strerror(rc));
		return -1;
	}
	if (o->servers && (rc = ares_set_servers_ports_csv(*ch, o->servers)) != ARES_SUCCESS) {
		errbuf_printf(err, errlen, "DNS servers \"%s\": %s", o->servers, ares_strerror(rc));
		ares_destroy(*ch);
		return -1;
	}
	return 0;
}

int sip_resolver_opts_check(const struct sip_resolver_opts *in, char *err, size_t errlen)
{
	struct sip_resolver_opts o;
	fill_defaults(&o, in);
	if (o.timeout_ms > 600000 || o.tries > 16) {
		errbuf_printf(err, errlen, "DNS timeout or tries out of range");
		return -1;
	}
	if (o.min_ttl > o.max_ttl) {
		errbuf_printf(err, errlen, "min_ttl %u above max_ttl %u", o.min_ttl, o.max_ttl);
		return -1;
	}
	if (!o.transports || (in && in->transports & ~SIP_TP_ALL)) {
		errbuf_printf(err, errlen, "unknown transport bits");
		return -1;
	}
	if ((unsigned)o.family > SIP_RESOLVE_V6_ONLY) {
		errbuf_printf(err, errlen, "unknown address family preference");
		return -1;
	}
	if (o.servers) {
		if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
			errbuf_printf(err, errlen, "c-ares cannot start");
			return -1;
		}
		ares_channel ch;
		int rc = channel_init(&ch, &o, NULL, err, errlen);
		if (rc == 0)
			ares_destroy(ch);
		ares_library_cleanup();
		if (rc < 0)
			return -1;
	}
	return 0;
}

struct sip_resolver *sip_resolver_new(struct ev_loop *loop, const struct sip_resolver_opts *opts)
{
	if (sip_resolver_opts_check(opts, NULL, 0) < 0)
		return NULL;
	struct sip_resolver *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->loop = loop;
	fill_defaults(&r->o, opts);
	if (r->o.servers && !(r->servers = strdup(r->o.servers)))
		goto fail;
	r->o.servers = r->servers;
	if (r->o.hosts_file && !(r->hosts_path = strdup(r->o.hosts_file)))
		goto fail;
	r->o.hosts_file = r->hosts_path;
	hosts_load(r);
	r->nbuckets = 16;
	while (r->nbuckets < r->o.cache_entries && r->nbuckets < (1u << 20))
		r->nbuckets *= 2;
	if (!(r->buckets = calloc(r->nbuckets, sizeof(*r->buckets))))
		goto fail;
	r->rng = r->o.seed;
	if (!r->rng && getrandom(&r->rng, sizeof(r->rng), GRND_NONBLOCK) != (ssize_t)sizeof(r->rng))
		r->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)r;
	ev_timer_init(&r->timer, on_ares_timer, r);
	if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		goto fail;
	if (channel_init(&r->channel, &r->o, r, NULL, 0) < 0) {
		ares_library_cleanup();
		goto fail;
	}
	r->channel_ok = true;
	return r;
fail:
	hosts_clear(r);
	free(r->buckets);
	free(r->servers);
	free(r->hosts_path);
	free(r);
	return NULL;
}

void sip_resolver_free(struct sip_resolver *r)
{
	if (!r)
		return;
	while (r->reqs) {
		struct sip_resolve_req *q = r->reqs;
		req_unlink(q);
		req_free(q);
	}
	if (r->channel_ok) {
		/* Calls on_answer with ARES_EDESTRUCTION for every lookup still
		 * in flight, and closes its sockets through on_sock_state. */
		ares_destroy(r->channel);
		ares_library_cleanup();
	}
	ev_timer_stop(r->loop, &r->timer);
	cache_clear(r);
	hosts_clear(r);
	free(r->buckets);
	free(r->failed);
	free(r->servers);
	free(r->hosts_path);
	free(r);
}

void sip_resolver_flush(struct sip_resolver *r)
{
	cache_clear(r);
	r->nfailed = 0;
	hosts_load(r);
}

int sip_resolver_cache_answer(struct sip_resolver *r, const unsigned char *msg, size_t len,
			      char *err, size_t errlen)
{
	if (len < 12 || len > 65535 || get16(msg + 4) != 1) {
		errbuf_printf(err, errlen, "not a DNS answer with one question");
		return -1;
	}
	char *qname = NULL;
	long qlen = 0;
	if (ares_expand_name(msg + 12, msg, (int)len, &qname, &qlen) != ARES_SUCCESS ||
	    12 + (size_t)qlen + 4 > len) {
		ares_free_string(qname);
		errbuf_printf(err, errlen, "malformed question");
		return -1;
	}
	char name[MAX_NAME + 1];
	bool fits = name_key(name, qname, strlen(qname));
	ares_free_string(qname);
	uint16_t type = get16(msg + 12 + qlen);
	if (!fits || (type != DNS_A && type != DNS_AAAA && type != DNS_SRV && type != DNS_NAPTR)) {
		errbuf_printf(err, errlen, "not a NAPTR, SRV, A or AAAA question");
		return -1;
	}
	int rcode = msg[3] & 0x0f, status;
	if (rcode == 0)
		status = get16(msg + 6) ? ARES_SUCCESS : ARES_ENODATA;
	else if (rcode == 3)
		status = ARES_ENOTFOUND;
	else
		status = ARES_ESERVFAIL;
	struct rrset *s = rrset_from_answer(r, name, type, status, msg, (int)len);
	int rc = 0;
	if (!s) {
		errbuf_printf(err, errlen, "out of memory");
		rc = -1;
	} else if (is_failure(s->status) || !s->expires) {
		errbuf_printf(err, errlen, "%s %s: %s", type_name(type), name,
			is_failure(s->status) ? s->why : "TTL 0, not cached");
		rc = -1;
	} else {
		cache_put(r, s);
	}
	rrset_unref(s);
	return rc;
}

void sip_resolver_get_stats(struct sip_resolver *r, struct sip_resolver_stats *out)
{
	failed_expire(r);
	*out = r->stats;
	out->cache_entries = r->ncached;
	out->blacklisted = r->nfailed;
	out->pending = r->nreqs;
}
