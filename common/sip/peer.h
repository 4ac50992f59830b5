/*
 * Where a message came from or goes to: transport and socket address, plus
 * the connection it arrived on for connection-oriented transports (so that
 * responses reuse it, RFC 3261 18.2.2).
 */
#ifndef VOCAL_SIP_PEER_H
#define VOCAL_SIP_PEER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum sip_transport {
	SIP_TP_UDP = 0,
	SIP_TP_TCP,
	SIP_TP_TLS,
	SIP_TP_COUNT
};

struct sip_peer {
	enum sip_transport transport;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t conn_id;   /* connection it came on (0: none / any) */
};

static inline bool sip_transport_reliable(enum sip_transport t) { return t != SIP_TP_UDP; }

/* "UDP", "TCP", "TLS". */
const char *sip_transport_name(enum sip_transport t);
/* Parses a Via transport name (case-insensitive); -1 when unknown. */
int sip_transport_from_name(const char *s, size_t len);

/* Writes "1.2.3.4:5060" or "[::1]:5060"; returns out. */
char *sip_peer_format(const struct sip_peer *p, char *out, size_t cap);
void sip_peer_set_port(struct sip_peer *p, uint16_t port);
uint16_t sip_peer_port(const struct sip_peer *p);
/* Same transport, address and port. */
bool sip_peer_equal(const struct sip_peer *a, const struct sip_peer *b);
/* Fills a peer from a numeric host ("1.2.3.4", "[::1]" or "::1") and port. */
int sip_peer_from_numeric(struct sip_peer *p, enum sip_transport t, const char *host, size_t hostlen,
			  uint16_t port);

#endif
