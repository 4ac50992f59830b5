/*
 * Building the messages the stack originates: responses to a request
 * (RFC 3261 8.2.6), the ACK for a non-2xx final response (17.1.1.3) and a
 * CANCEL (9.1). Headers that must be copied are copied verbatim from the
 * parsed message; the output goes to the caller's buffer.
 */
#ifndef VOCAL_SIP_BUILD_H
#define VOCAL_SIP_BUILD_H

#include "sip/msg.h"

/* The standard reason phrase of a status code ("Not Found"), or "". */
const char *sip_reason_phrase(unsigned status);

/*
 * Writes a response to req: all its Via headers in order, From, To (with
 * ;tag=to_tag appended when the request's To has no tag, status > 100 and
 * to_tag is not empty), Call-ID and CSeq; then extra (header lines each
 * ending in CRLF, or NULL), Content-Length and body. reason NULL means the
 * standard phrase. req must have passed sip_msg_check. Returns the length
 * needed; when it exceeds cap, out holds nothing useful.
 */
size_t sip_build_response(struct sip_msg *req, unsigned status, const char *reason, sip_str to_tag,
			  const char *extra, sip_str body, char *out, size_t cap);

/* The ACK a client INVITE transaction sends for a 300-699 response. */
size_t sip_build_ack(struct sip_msg *invite, struct sip_msg *resp, char *out, size_t cap);

/* A CANCEL for req (an INVITE sent by this element). */
size_t sip_build_cancel(struct sip_msg *req, char *out, size_t cap);

/* Appends bytes to a bounded output, counting what did not fit. */
struct sip_out {
	char *p;
	size_t cap, len;
};
void sip_out_put(struct sip_out *o, const char *s, size_t n);
void sip_out_str(struct sip_out *o, sip_str s);
void sip_out_printf(struct sip_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
