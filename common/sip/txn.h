/*
 * The transaction layer (RFC 3261 section 17, with RFC 6026's Accepted
 * state): client and server transactions for INVITE and non-INVITE, timers
 * A-M, retransmission and absorption of retransmissions, the ACK for non-2xx
 * inside the INVITE client transaction, matching by branch (17.1.3, 17.2.3)
 * with RFC 2543 fallback, and CANCEL matching.
 *
 * The layer owns no socket. Messages come in through sip_txn_input() with
 * the peer they came from; they go out through the send hook. Upward, the
 * transaction user (a proxy core, a registrar) gets callbacks.
 *
 * Memory: a transaction copies the request it was created with (and the
 * last response it sent), so the caller's buffers may be reused at once.
 */
#ifndef VOCAL_SIP_TXN_H
#define VOCAL_SIP_TXN_H

#include <stdbool.h>
#include <stdint.h>

#include "ev.h"
#include "sip/msg.h"
#include "sip/peer.h"

struct sip_txn;
struct sip_txn_layer;

enum sip_txn_state {
	SIP_TXN_CALLING,     /* INVITE client: request sent, nothing back */
	SIP_TXN_TRYING,      /* non-INVITE: request sent or received */
	SIP_TXN_PROCEEDING,  /* provisional response seen or sent */
	SIP_TXN_COMPLETED,   /* final non-2xx (or non-INVITE final): absorbing retransmissions */
	SIP_TXN_ACCEPTED,    /* INVITE 2xx (RFC 6026): absorbing retransmissions */
	SIP_TXN_CONFIRMED,   /* INVITE server: ACK received */
	SIP_TXN_TERMINATED,
};

enum sip_txn_end {
	SIP_TXN_END_NORMAL,     /* finished its job */
	SIP_TXN_END_TIMEOUT,    /* Timer B/F (client) or H (no ACK, server) */
	SIP_TXN_END_TRANSPORT,  /* the transport could not send */
};

struct sip_txn_timers {
	uint32_t t1, t2, t4;  /* ms; defaults 500, 4000, 5000 */
	uint32_t trying_100;  /* INVITE server: send 100 Trying after this many ms
	                         unless the TU responded (RFC 3261 17.2.1: 200 ms);
	                         0 = send it at once */
};

struct sip_txn_hooks {
	void *ctx;
	/* Sends bytes to a peer. Returns 0, or -1 when the transport failed. */
	int (*send)(void *ctx, const struct sip_peer *to, const char *buf, size_t len);
	/* A request that created a server transaction (also CANCEL). The TU
	 * answers with sip_txn_respond(); req lives as long as the txn. */
	void (*request)(void *ctx, struct sip_txn *st, struct sip_msg *req);
	/* An ACK that matched no INVITE server transaction in Completed
	 * (the ACK for a 2xx, or a stray one): proxies forward it. */
	void (*ack)(void *ctx, struct sip_msg *ack, const struct sip_peer *from);
	/* A response for a client transaction (every provisional, every final,
	 * and 2xx retransmissions while Accepted). */
	void (*response)(void *ctx, struct sip_txn *ct, struct sip_msg *resp);
	/* A response that matched no client transaction. */
	void (*stray_response)(void *ctx, struct sip_msg *resp, const struct sip_peer *from);
	/* A transaction ended; after this call the pointer is gone. */
	void (*terminated)(void *ctx, struct sip_txn *t, enum sip_txn_end why);
	/*
	 * A new request (not a retransmission, not an ACK) before a server
	 * transaction is created for it: admission control. Returns 0 to go
	 * on, SIP_TXN_DROP to drop it without a word (scanners), or a status
	 * (300-699) that the layer answers statelessly, with extra (header
	 * lines ending in CRLF, written by the hook into extra[cap], may stay
	 * empty) added: a 503 with Retry-After when overloaded costs no
	 * transaction. May be NULL: everything is admitted.
	 */
	unsigned (*admit)(void *ctx, struct sip_msg *req, const struct sip_peer *from, char *extra,
			  size_t cap);
	/* A request that could not be parsed or checked, before any
	 * transaction exists; the layer has already answered it (400/505...)
	 * when it could. For logs and counters; may be NULL. */
	void (*rejected)(void *ctx, const struct sip_error *err, const struct sip_peer *from);
};

#define SIP_TXN_DROP 1u

struct sip_txn_layer *sip_txn_layer_new(struct ev_loop *loop, const struct sip_txn_timers *timers,
					const struct sip_txn_hooks *hooks);
/* Frees the layer and every transaction without calling hooks. */
void sip_txn_layer_free(struct sip_txn_layer *l);

/* Feeds one received message (a datagram, or one framed stream message). */
void sip_txn_input(struct sip_txn_layer *l, const char *buf, size_t len, const struct sip_peer *from);

/* Server side: sends a response (bytes of a whole response) in the
 * transaction; the state machine decides about retransmissions. A 2xx to an
 * INVITE moves it to Accepted; 2xx retransmissions from the TU (a UAS core)
 * go out through here too. Returns 0 or -1. */
int sip_txn_respond(struct sip_txn *st, const char *buf, size_t len);
/* Builds and sends a response with sip_build_response; -1 once a final
 * response was sent (the request is gone by then). */
int sip_txn_reply(struct sip_txn *st, unsigned status, const char *reason, const char *extra);

/* Client side: sends request bytes to a peer in a new client transaction.
 * The request's top Via must carry a unique RFC 3261 branch. Returns the
 * transaction, or NULL (bad request bytes, no memory, send failure is
 * reported later through terminated()). */
struct sip_txn *sip_txn_request(struct sip_txn_layer *l, const char *buf, size_t len,
				const struct sip_peer *to, void *user);

/* Tells the layer that the transport lost a peer (a connection refused,
 * reset or failing its TLS handshake after the request was queued): every
 * client transaction waiting on that peer ends with SIP_TXN_END_TRANSPORT
 * now, instead of at Timer B/F, so that the TU can fail over at once
 * (RFC 3261 17.1.4). Wire it to sip_tp_on_error. */
void sip_txn_transport_failed(struct sip_txn_layer *l, const struct sip_peer *peer);

/* The INVITE server transaction a CANCEL server transaction refers to
 * (RFC 3261 9.2), or NULL. */
struct sip_txn *sip_txn_cancelled(struct sip_txn_layer *l, struct sip_txn *cancel);

/* Stops a client transaction from calling the TU again (its owner is gone);
 * it still finishes its retransmission duties. */
void sip_txn_detach(struct sip_txn *t);

/* Tells an INVITE client transaction that the TU sent a CANCEL for it: if
 * no final response comes within 64*T1, it ends with SIP_TXN_END_TIMEOUT
 * (RFC 3261 9.1: a UAS that ignores the CANCEL must not keep it forever). */
void sip_txn_cancel_sent(struct sip_txn *t);

struct sip_msg *sip_txn_request_msg(struct sip_txn *t);
const struct sip_peer *sip_txn_peer(const struct sip_txn *t);
enum sip_txn_state sip_txn_state(const struct sip_txn *t);
bool sip_txn_is_server(const struct sip_txn *t);
bool sip_txn_is_invite(const struct sip_txn *t);
/* Last final or provisional status sent (server) or received (client). */
unsigned sip_txn_status(const struct sip_txn *t);
void *sip_txn_user(const struct sip_txn *t);
void sip_txn_set_user(struct sip_txn *t, void *user);
const char *sip_txn_state_name(enum sip_txn_state s);

/* Generates a fresh RFC 3261 branch ("z9hG4bK" + 22 chars) into out
 * (at least 32 bytes); returns its length. */
size_t sip_txn_new_branch(char *out, size_t cap);

struct sip_txn_stats {
	uint64_t server_created, client_created, retransmissions_absorbed, retransmissions_sent,
		timeouts, rejected, stray_responses,
		refused; /* by the admit hook: dropped or answered statelessly */
	size_t active;
};
void sip_txn_get_stats(const struct sip_txn_layer *l, struct sip_txn_stats *out);

#endif
