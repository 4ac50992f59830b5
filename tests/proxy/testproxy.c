/*
 * testproxy: a stateful proxy built on the common proxy core, with a routing
 * table from the command line, for the integration tests (SIPp scenarios,
 * torture messages over the wire, TLS between two instances).
 *
 *   testproxy --host 127.0.0.1 -l udp:127.0.0.1:0 -l tcp:127.0.0.1:0
 *             [-l tls:127.0.0.1:0 --cert F --key F --ca F]
 *             [--target USER=URI[,URI...][|URI...]]...   ',' forks in parallel,
 *                                                     '|' starts the next group
 *             [--reply USER=CODE]... [--recurse] [--no-record-route]
 *
 * Requests for a user in neither table get 404. It only ever sends to
 * loopback addresses: a torture message routed elsewhere gets 503 instead
 * (tests send nothing off the machine). --t1 MS shortens the transaction
 * timers. Prints "ready udp=P tcp=P tls=P" when listening; SIGTERM or
 * SIGINT stops it (and prints its counters).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ev.h"
#include "log.h"
#include "sip/proxy.h"
#include "sip/transport.h"

struct route {
	char user[64];
	const char *targets; /* NULL when reply is set */
	unsigned reply;
};

static struct route routes[64];
static int nroutes;
static struct sip_tp *tp;
static struct sip_proxy *proxy;

static bool loopback(const struct sip_peer *p)
{
	if (p->addr.ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)&p->addr)->sin_addr.s_addr) >> 24) == 127;
	if (p->addr.ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&p->addr)->sin6_addr);
	return false;
}

static int send_hook(void *ctx, const struct sip_peer *to, const char *buf, size_t len)
{
	(void)ctx;
	if (!loopback(to)) {
		char a[64];
		log_debug("not sending to %s: tests stay on loopback", sip_peer_format(to, a, sizeof(a)));
		return -1;
	}
	return sip_tp_send(tp, to, buf, len);
}

static void recv_hook(void *ctx, const char *buf, size_t len, const struct sip_peer *from)
{
	(void)ctx;
	sip_proxy_input(proxy, buf, len, from);
}

static const struct route *find_route(sip_str user)
{
	for (int i = 0; i < nroutes; i++)
		if (sip_str_eq(user, sip_str_make(routes[i].user, strlen(routes[i].user))))
			return &routes[i];
	return NULL;
}

static void route_hook(void *ctx, struct sip_proxy_ctx *pc, struct sip_msg *req)
{
	(void)ctx;
	const struct route *r = find_route(req->ruri.user);
	if (!r) {
		sip_proxy_reply(pc, 404, NULL, NULL);
		return;
	}
	if (r->reply) {
		sip_proxy_reply(pc, r->reply, NULL, NULL);
		return;
	}
	unsigned group = 0;
	const char *s = r->targets;
	while (*s) {
		size_t n = strcspn(s, ",|");
		if (sip_proxy_add_target(pc, s, n, group) < 0)
			log_warnx("bad target %.*s", (int)n, s);
		s += n;
		if (*s == '|')
			group++;
		if (*s)
			s++;
	}
	sip_proxy_start(pc);
}

static void on_stop(struct ev_loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	ev_break(loop);
}

static int add_route(const char *spec, bool reply)
{
	const char *eq = strchr(spec, '=');
	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(routes[0].user) || nroutes >= 64)
		return -1;
	struct route *r = &routes[nroutes++];
	memcpy(r->user, spec, (size_t)(eq - spec));
	if (reply) {
		r->reply = (unsigned)atoi(eq + 1);
		return r->reply >= 300 && r->reply <= 699 ? 0 : -1;
	}
	r->targets = eq + 1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'H'},  {"listen", required_argument, NULL, 'l'},
		{"target", required_argument, NULL, 't'}, {"reply", required_argument, NULL, 'r'},
		{"recurse", no_argument, NULL, 'R'},      {"no-record-route", no_argument, NULL, 'N'},
		{"cert", required_argument, NULL, 'c'},   {"key", required_argument, NULL, 'k'},
		{"ca", required_argument, NULL, 'a'},     {"verbose", no_argument, NULL, 'v'},
		{"t1", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0},
	};
	const char *listen[8];
	int nlisten = 0;
	struct sip_proxy_opts po = {.host = "127.0.0.1", .record_route = true, .supported = "100rel,timer"};
	struct sip_tp_opts to = {0};
	int c;
	log_init("testproxy", LOG_TO_STDERR, LOG_INFO);
	while ((c = getopt_long(argc, argv, "H:l:t:r:Rvc:k:a:NT:", opts, NULL)) != -1) {
		switch (c) {
		case 'H': po.host = optarg; break;
		case 'l':
			if (nlisten == 8)
				fatalx("too many listeners");
			listen[nlisten++] = optarg;
			break;
		case 't':
			if (add_route(optarg, false) < 0)
				fatalx("bad --target %s", optarg);
			break;
		case 'r':
			if (add_route(optarg, true) < 0)
				fatalx("bad --reply %s", optarg);
			break;
		case 'R': po.recurse_3xx = true; break;
		case 'N': po.record_route = false; break;
		case 'c': to.tls_cert = optarg; break;
		case 'k': to.tls_key = optarg; break;
		case 'a': to.tls_ca = optarg; to.verify_servers = true; break;
		case 'v': log_setlevel(LOG_DEBUG); break;
		case 'T':
			po.timers.t1 = (uint32_t)atoi(optarg);
			po.timers.t2 = 8 * po.timers.t1;
			po.timers.t4 = 10 * po.timers.t1;
			break;
		default:
			fprintf(stderr, "usage: testproxy --host H -l proto:host:port... [--target U=URI...]\n");
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	struct ev_loop *loop = ev_loop_new();
	char err[256];
	tp = sip_tp_new(loop, &to, recv_hook, NULL, err, sizeof(err));
	if (!tp)
		fatalx("transport: %s", err);
	int idx[8];
	for (int i = 0; i < nlisten; i++) {
		enum sip_transport t;
		if (!strncmp(listen[i], "udp:", 4))
			t = SIP_TP_UDP;
		else if (!strncmp(listen[i], "tcp:", 4))
			t = SIP_TP_TCP;
		else if (!strncmp(listen[i], "tls:", 4))
			t = SIP_TP_TLS;
		else
			fatalx("listener %s: want udp:, tcp: or tls:", listen[i]);
		idx[i] = sip_tp_listen(tp, t, listen[i] + 4, err, sizeof(err));
		if (idx[i] < 0)
			fatalx("listen %s: %s", listen[i], err);
		po.port[t] = sip_tp_local_port(tp, idx[i]);
	}
	struct sip_proxy_hooks ph = {.send = send_hook, .route = route_hook};
	proxy = sip_proxy_new(loop, &po, &ph);
	if (!proxy)
		fatalx("proxy: out of memory");
	ev_signal_add(loop, SIGTERM, on_stop, NULL);
	ev_signal_add(loop, SIGINT, on_stop, NULL);
	printf("ready udp=%u tcp=%u tls=%u\n", po.port[SIP_TP_UDP], po.port[SIP_TP_TCP], po.port[SIP_TP_TLS]);
	fflush(stdout);
	ev_run(loop);

	struct sip_proxy_stats ps;
	sip_proxy_get_stats(proxy, &ps);
	struct sip_txn_stats ts;
	sip_txn_get_stats(sip_proxy_txn_layer(proxy), &ts);
	log_info("requests=%llu forwarded=%llu local=%llu loops=%llu hops=%llu cancels=%llu "
		 "rejected=%llu retransmissions-absorbed=%llu",
		 (unsigned long long)ps.requests, (unsigned long long)ps.forwarded,
		 (unsigned long long)ps.answered_locally, (unsigned long long)ps.loops,
		 (unsigned long long)ps.too_many_hops, (unsigned long long)ps.cancels,
		 (unsigned long long)ts.rejected, (unsigned long long)ts.retransmissions_absorbed);
	sip_proxy_free(proxy);
	sip_tp_free(tp);
	ev_loop_free(loop);
	return 0;
}
