/*
 * What went wrong while parsing, and where.
 *
 * Parsers report a fault (what is wrong, which tells the caller the status
 * code to answer with), the byte offset of the fault in the message, and a
 * short sentence for a log line or a Warning/reason phrase. They never print.
 */
#ifndef VOCAL_SIP_ERROR_H
#define VOCAL_SIP_ERROR_H

#include <stddef.h>

enum sip_fault {
	SIP_FAULT_NONE = 0,
	SIP_FAULT_TOO_LARGE,           /* message over the size limit */
	SIP_FAULT_START_LINE,          /* request or status line shape */
	SIP_FAULT_METHOD,              /* method is not a token */
	SIP_FAULT_REQUEST_URI,         /* Request-URI does not parse */
	SIP_FAULT_VERSION,             /* SIP version other than 2.0 (505) */
	SIP_FAULT_STATUS_CODE,         /* status code not 3 digits 100-699 */
	SIP_FAULT_REASON_PHRASE,       /* control characters in the reason */
	SIP_FAULT_HEADER_LINE,         /* header line without a name or colon */
	SIP_FAULT_HEADERS_UNTERMINATED,/* no empty line after the headers */
	SIP_FAULT_HEADER_VALUE,        /* a header's value does not parse */
	SIP_FAULT_DUPLICATE_HEADER,    /* a single-valued header repeated */
	SIP_FAULT_MISSING_HEADER,      /* a mandatory header is absent */
	SIP_FAULT_CONTENT_LENGTH,      /* bad, negative or conflicting length */
	SIP_FAULT_BODY_TRUNCATED,      /* Content-Length larger than the data */
	SIP_FAULT_CSEQ_METHOD,         /* CSeq method differs from the method */
	SIP_FAULT_NO_MEMORY,           /* parser's memory cap reached */
	SIP_FAULT_BODY,                /* a body (multipart) does not parse */
	SIP_FAULT_COUNT
};

struct sip_error {
	enum sip_fault fault;
	size_t offset;      /* byte offset of the fault from base */
	const char *base;   /* start of the buffer offsets count from */
	char detail[160];   /* one line, e.g. "Via: empty parameter" */
};

/* Stable short name of a fault, e.g. "bad-header-value". */
const char *sip_fault_name(enum sip_fault f);

/* The status code a server answers a request with this fault:
 * 505 for a version, 513 for size, 400 for the rest. */
int sip_fault_status(enum sip_fault f);

/* Records a fault at position at (inside the buffer err->base points to)
 * unless one is already recorded; always returns -1 so that parsers can
 * `return sip_fail(...)`. err may be NULL. */
int sip_fail(struct sip_error *err, enum sip_fault f, const char *at,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
