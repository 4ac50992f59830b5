/*
 * SIP transports (RFC 3261 section 18): UDP, TCP and TLS over IPv4 and
 * IPv6, on the event loop. The layer frames incoming bytes into messages
 * and hands each one up with the peer it came from; it sends bytes to a
 * peer, reusing a connection to it when one exists.
 *
 * UDP reads in batches (recvmmsg). TCP and TLS frame by Content-Length
 * (sip_frame_stream), skip CRLF keep-alives, close a connection that sends
 * an unframeable or oversized message, that stays silent or half-sent too
 * long, or that would exceed the per-peer or total connection limits.
 */
#ifndef VOCAL_SIP_TRANSPORT_H
#define VOCAL_SIP_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "sip/peer.h"

struct sip_tp;

struct sip_tp_opts {
	size_t max_message;          /* bytes; 0 = SIP_DEFAULT_MAX_MESSAGE */
	uint32_t idle_timeout_ms;    /* close a connection idle this long; 0 = 300000 */
	uint32_t partial_timeout_ms; /* close when a started message is not complete
	                                within this; 0 = 10000 (slowloris) */
	unsigned max_conns;          /* total TCP+TLS connections; 0 = 4096 */
	unsigned max_conns_per_ip;   /* 0 = 64 */
	size_t max_queued;           /* bytes queued per connection before it is cut; 0 = 1 MiB */
	/* TLS: PEM files; a listener needs cert and key. ca enables peer
	 * verification (of servers we connect to; of clients when
	 * verify_clients). */
	const char *tls_cert, *tls_key, *tls_ca;
	bool verify_clients;
	bool verify_servers;
};

/* Called for each received message: buf holds exactly one message (one
 * datagram, or one framed stream message), valid during the call only.
 * For UDP, from->conn_id names the listener the datagram arrived on, so
 * that a response sent to that peer leaves from the same socket (RFC 3581
 * section 4). The callback may call sip_tp_send, not sip_tp_free. */
typedef void (*sip_tp_recv_fn)(void *ctx, const char *buf, size_t len, const struct sip_peer *from);

/* Creates the layer. Returns NULL and writes why into err on failure (e.g.
 * TLS files that do not load). */
struct sip_tp *sip_tp_new(struct ev_loop *loop, const struct sip_tp_opts *opts, sip_tp_recv_fn recv,
			  void *ctx, char *err, size_t errlen);
void sip_tp_free(struct sip_tp *tp);

/* Listens on "host:port", "[v6]:port" or "*:port" for one transport
 * (UDP, TCP or TLS). Hosts are numeric; "*" is 0.0.0.0 ("[::]" for IPv6,
 * which is IPv6-only). Port 0 picks a free port; sip_tp_local_port tells it.
 * Returns a listener index (>= 0) or -1 with err set. */
int sip_tp_listen(struct sip_tp *tp, enum sip_transport t, const char *hostport, char *err,
		  size_t errlen);
uint16_t sip_tp_local_port(const struct sip_tp *tp, int listener);

/*
 * Sends one message. UDP: from the listener of the same address family.
 * TCP/TLS: over to->conn_id when that connection is still open, else over
 * any open connection to the same address and port, else a new connection
 * (queued until connected). Returns 0 when sent or queued, -1 when it cannot
 * be (no listener of that family, connection refused immediately, limits).
 * A connection that fails later is reported by the error hook.
 * UDP goes from the listener to->conn_id names when it is one of that
 * family; a datagram the kernel has no buffer for is dropped and counted
 * in send_errors but returns 0, like any loss UDP retransmission covers.
 */
int sip_tp_send(struct sip_tp *tp, const struct sip_peer *to, const char *buf, size_t len);

/*
 * As sip_tp_send, for a server known by name (RFC 5922: the host of the
 * SIP URI, or the SRV target's domain). A new TLS connection sends name as
 * SNI (unless it is an IP literal) and, with verify_servers, requires the
 * certificate to name it rather than the peer's IP address, which is all
 * sip_tp_send can check. Only a connection opened for the same name (or
 * to->conn_id) is reused. name is ignored for UDP and TCP; NULL is
 * sip_tp_send.
 */
int sip_tp_send_named(struct sip_tp *tp, const struct sip_peer *to, const char *name,
		      const char *buf, size_t len);

/* Optional: called when a connection to a peer fails or closes with data
 * still queued, so the transaction layer can fail over. peer carries the
 * dead connection's conn_id. It runs from the loop (a zero-delay timer),
 * never from inside sip_tp_send, and may send. */
void sip_tp_on_error(struct sip_tp *tp, void (*fn)(void *ctx, const struct sip_peer *peer), void *ctx);

/* The address a listener is bound to, for Via and Record-Route headers
 * (for UDP, conn_id names the listener, as in received peers). */
const struct sip_peer *sip_tp_listener_addr(const struct sip_tp *tp, int listener);

struct sip_tp_stats {
	uint64_t rx_messages, tx_messages, rx_bytes, tx_bytes, rx_dropped_oversize,
		rx_framing_errors, conns_accepted, conns_refused_limit, conns_closed_idle,
		conns_closed_slow, send_errors;
	unsigned conns_open;
	uint64_t tls_handshake_failures; /* either side: bad certificate, garbage */
};
void sip_tp_get_stats(const struct sip_tp *tp, struct sip_tp_stats *out);

#endif
