/*
 * SIP messages: parse, inspect, edit, serialize (RFC 3261 section 7).
 *
 * sip_msg_parse() reads the start line and splits the header section into
 * named slices over the caller's buffer; nothing is copied and no header
 * value is parsed until somebody asks for it (sip_hdr_parse and the
 * sip_msg_* accessors), Kamailio-style. The buffer must outlive the message.
 * Everything the parser allocates comes from the message's arena and is
 * freed by sip_msg_free().
 */
#ifndef VOCAL_SIP_MSG_H
#define VOCAL_SIP_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "sip/addr.h"
#include "sip/auth.h"
#include "sip/error.h"
#include "sip/hdr.h"
#include "sip/str.h"
#include "sip/uri.h"
#include "sip/via.h"

#define SIP_DEFAULT_MAX_MESSAGE 65535u

enum sip_method {
	SIP_METHOD_OTHER = 0,
	SIP_METHOD_INVITE,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_REGISTER,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_INFO,
	SIP_METHOD_PRACK,
	SIP_METHOD_UPDATE,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_REFER,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_PUBLISH,
};

/* Methods are case-sensitive (RFC 3261 7.1). */
enum sip_method sip_method_lookup(sip_str name);
const char *sip_method_name(enum sip_method m);

struct sip_hdr {
	enum sip_hdr_type type;
	sip_str name;       /* as on the wire, e.g. "v" or "VIA" */
	sip_str value;      /* trimmed; folded line breaks left in place */
	sip_str line;       /* the whole header, name to value end, for verbatim copies */
	int8_t state;       /* 0 not parsed yet, 1 parsed, -1 failed to parse */
	bool removed;       /* edit: leave out when serializing */
	sip_str replace;    /* edit: whole replacement line ("Name: value"), if set */
	union {
		struct sip_via *via;
		struct sip_addr *addr;
		struct sip_cseq cseq;
		uint32_t uint;
		int64_t date;
		struct sip_list_item *list;
		struct sip_auth *auth;
		struct sip_warning *warning;
		struct sip_retry_after *retry;
	} v;                /* the parsed value, by sip_hdr_info[type].kind */
	struct sip_hdr *next_same; /* next header of the same type */
};

struct sip_insert;

struct sip_msg {
	const char *buf;    /* message start (after any leading CRLFs) */
	size_t len;         /* message length, trailing datagram octets excluded */
	bool is_request;
	/* request line */
	sip_str method;
	enum sip_method method_id;
	sip_str ruri_text;
	struct sip_uri ruri;
	/* status line */
	unsigned status;
	sip_str reason;
	sip_str start_line; /* without CRLF */

	struct sip_hdr *hdrs;
	unsigned hdr_count;
	struct sip_hdr *first[SIP_HDR_COUNT];
	struct sip_hdr *last[SIP_HDR_COUNT];
	size_t hdr_end;     /* offset of the body (just after the empty line) */
	bool has_content_length;
	uint32_t content_length;
	sip_str body;

	/* edits for the serializer */
	sip_str new_start_line;
	bool body_replaced;
	sip_str new_body;
	struct sip_insert *inserts;

	struct arena arena;
};

struct sip_parse_opts {
	bool stream;        /* TCP/TLS: Content-Length is mandatory */
	size_t max_size;    /* 0: SIP_DEFAULT_MAX_MESSAGE */
	size_t arena_limit; /* malloc cap for parsed values; 0: 16 * max_size */
};

/*
 * Parses the start line and header section of buf[0..len) (one datagram, or
 * one message framed by sip_frame_stream). A datagram without
 * Content-Length has the rest as body; octets beyond Content-Length are
 * ignored (RFC 3261 18.3). Returns 0, or -1 with err naming the fault and
 * its offset. Always call sip_msg_free() afterwards, success or not.
 */
int sip_msg_parse(struct sip_msg *m, const char *buf, size_t len,
		  const struct sip_parse_opts *opts, struct sip_error *err);

void sip_msg_free(struct sip_msg *m);

/* Frames a stream: skips leading CRLF keep-alives (*skip counts them) and
 * returns the length of the first whole message after them, 0 when more
 * data is needed, -1 on a fault (no Content-Length, too large, bad length). */
long sip_frame_stream(const char *buf, size_t len, size_t max_size, size_t *skip,
		      struct sip_error *err);

/* Parses a header's value by its kind (cached). Returns 0 or -1. */
int sip_hdr_parse(struct sip_msg *m, struct sip_hdr *h, struct sip_error *err);

/* Parses every header value: the strict check sipcheck and tests use. */
int sip_msg_parse_all(struct sip_msg *m, struct sip_error *err);

/*
 * The checks every element applies before acting on a message (RFC 3261
 * 8.2 and 16.3 step 1): the headers a request or response must carry are
 * present and parse (Via, From, To, Call-ID, CSeq; Max-Forwards may be
 * absent for RFC 2543 peers), single-valued headers appear once, the CSeq
 * method equals the request method.
 */
int sip_msg_check(struct sip_msg *m, struct sip_error *err);

/* Accessors that parse on demand; NULL or -1 when absent or malformed (err set
 * when malformed). */
struct sip_via *sip_msg_via(struct sip_msg *m, struct sip_error *err);
struct sip_addr *sip_msg_from(struct sip_msg *m, struct sip_error *err);
struct sip_addr *sip_msg_to(struct sip_msg *m, struct sip_error *err);
const struct sip_cseq *sip_msg_cseq(struct sip_msg *m, struct sip_error *err);
sip_str sip_msg_call_id(const struct sip_msg *m);
/* Max-Forwards value, or -1 when absent, -2 when malformed. */
int sip_msg_max_forwards(struct sip_msg *m, struct sip_error *err);

/* Edits, applied by sip_msg_serialize; text is copied into the arena. */
int sip_msg_insert_header(struct sip_msg *m, const struct sip_hdr *before, const char *line,
			  size_t len);
int sip_msg_replace_header(struct sip_msg *m, struct sip_hdr *h, const char *line, size_t len);
void sip_msg_remove_header(struct sip_hdr *h);
int sip_msg_set_start_line(struct sip_msg *m, const char *line, size_t len);
int sip_msg_set_body(struct sip_msg *m, const char *body, size_t len);
/* Forgets every edit (the memory they took stays in the arena until
 * sip_msg_free), so one parsed message can be forwarded several ways. */
void sip_msg_reset_edits(struct sip_msg *m);

/* Writes the message with its edits into out. Returns the length needed;
 * when that exceeds cap nothing useful is in out. Content-Length is
 * rewritten when the body was replaced, and added when it was missing
 * (it is mandatory on stream transports). */
size_t sip_msg_serialize(const struct sip_msg *m, char *out, size_t cap);

#endif
