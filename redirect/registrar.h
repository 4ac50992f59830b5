/*
 * REGISTER processing (RFC 3261 10.3, RFC 3327 Path, RFC 5626 flows) over
 * the location service, and the Contact lines of a 302 for the router.
 *
 * The caller has already done steps 1, 3 and 5 of RFC 3261 10.3: the
 * domain is ours, the marshal authenticated the request, and the To AOR
 * was resolved to a subscriber id. This module does the rest: Require
 * (step 2), Contact, expiry, q, Call-ID/CSeq ordering (steps 6 and 7),
 * all-or-nothing commit, and the response's header lines (step 8).
 */
#ifndef VOCAL_REDIRECT_REGISTRAR_H
#define VOCAL_REDIRECT_REGISTRAR_H

#include <stddef.h>
#include <stdint.h>

#include "location.h"
#include "sip/msg.h"

struct registrar_config {
	uint32_t min_expires;     /* below it (and not 0): 423; 0: no minimum */
	uint32_t max_expires;     /* longer requests are granted this */
	uint32_t default_expires; /* when neither expires param nor Expires header */
	unsigned max_contacts;    /* bindings per AOR; 0: no limit */
};

/* 60, 3600, 3600, 10. */
void registrar_config_default(struct registrar_config *c);

/* A size for the extra header buffer that holds ten long bindings; the
 * response says how much it needed when it was not enough. */
#define REGISTRAR_EXTRA_SIZE 8192

/* Most Contact values one REGISTER may carry (more: 403). */
#define REGISTRAR_MAX_REQUEST_CONTACTS 32

struct registrar_result {
	unsigned status;
	const char *reason;   /* reason phrase for sip_txn_reply; NULL: the standard one */
	size_t extra_len;     /* bytes written to extra, NUL not counted */
	size_t extra_needed;  /* bytes the whole set of lines needed; more than extra_len
	                         when Contact lines were left out for want of room */
	unsigned changes;     /* bindings added, refreshed or removed */
	char detail[128];     /* why it failed, for the log */
};

/*
 * Processes a REGISTER (req, parsed and sip_msg_check'ed) for the AOR
 * subscriber_id. received is where it came from ("udp:192.0.2.1:5060"),
 * stored with the bindings. Either every binding change of the request is
 * applied (each calling the location's changed hook) or none is.
 *
 * Writes the response's extra header lines (each ending CRLF,
 * NUL-terminated) into extra[0..cap): on 200 a Date, every current binding
 * as a Contact with ;expires= (and ;q=, +sip.instance, reg-id), the Path
 * echoed when the UA supports it (RFC 3327 5.3), Require: outbound for
 * RFC 5626 flows; Min-Expires on 423; Unsupported on 420. Lines that do not
 * fit are left out whole (the last Contacts first); registrar_reply_lines
 * renders them again into a larger buffer. Returns out->status; reply with
 * sip_txn_reply(st, out->status, out->reason, extra).
 */
unsigned registrar_register(struct location *loc, const struct registrar_config *cfg,
			    int64_t subscriber_id, struct sip_msg *req, sip_str received,
			    char *extra, size_t cap, struct registrar_result *out);

/* The header lines of the 200 for req as the AOR now is (what
 * registrar_register writes on success). Returns the length needed; sets
 * *len to what was written. */
size_t registrar_reply_lines(const struct location *loc, int64_t subscriber_id,
			     struct sip_msg *req, char *extra, size_t cap, size_t *len);

/*
 * Where a 302 sends the caller for binding b: return b's own contact
 * (binding_str(b, BINDING_CONTACT)), another URI (it may be written into
 * buf[0..cap)), or an empty sip_str to leave b out. The router uses this
 * to point at the first Path hop of a binding that has one, say.
 */
typedef sip_str (*registrar_target_fn)(void *ctx, const struct binding *b, char *buf,
				       size_t cap);

/* Writes "Contact: <uri>;q=0.5\r\n" per live binding of the AOR, highest q
 * first (target NULL: each binding's contact), NUL-terminated, into
 * out[0..cap). Lines that do not fit are left out whole. Returns the
 * length needed; *len gets the length written, *count the lines. */
size_t registrar_contacts_302(const struct location *loc, int64_t subscriber_id,
			      registrar_target_fn target, void *ctx, char *out, size_t cap,
			      size_t *len, unsigned *count);

/* Formats q (thousandths) as a qvalue ("1", "0.5", "0.125") into buf[8]. */
const char *registrar_format_q(uint16_t q, char buf[8]);

#endif
