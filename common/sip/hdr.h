/*
 * Header names and the small header values: the table of known headers
 * (long and compact forms), and parsers for CSeq, numbers, Call-ID, Date,
 * token lists and media types. Via, name-addr and digest headers have their
 * own files (via.h, addr.h, auth.h).
 */
#ifndef VOCAL_SIP_HDR_H
#define VOCAL_SIP_HDR_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "sip/error.h"
#include "sip/scan.h"
#include "sip/str.h"

enum sip_hdr_type {
	SIP_HDR_OTHER = 0,
	SIP_HDR_ACCEPT,
	SIP_HDR_ACCEPT_ENCODING,
	SIP_HDR_ACCEPT_LANGUAGE,
	SIP_HDR_ALERT_INFO,
	SIP_HDR_ALLOW,
	SIP_HDR_ALLOW_EVENTS,
	SIP_HDR_AUTHENTICATION_INFO,
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_CALL_ID,
	SIP_HDR_CALL_INFO,
	SIP_HDR_CONTACT,
	SIP_HDR_CONTENT_DISPOSITION,
	SIP_HDR_CONTENT_ENCODING,
	SIP_HDR_CONTENT_LANGUAGE,
	SIP_HDR_CONTENT_LENGTH,
	SIP_HDR_CONTENT_TYPE,
	SIP_HDR_CSEQ,
	SIP_HDR_DATE,
	SIP_HDR_ERROR_INFO,
	SIP_HDR_EVENT,
	SIP_HDR_EXPIRES,
	SIP_HDR_FROM,
	SIP_HDR_IN_REPLY_TO,
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_MIME_VERSION,
	SIP_HDR_MIN_EXPIRES,
	SIP_HDR_ORGANIZATION,
	SIP_HDR_PATH,
	SIP_HDR_PRIORITY,
	SIP_HDR_PRIVACY,
	SIP_HDR_PROXY_AUTHENTICATE,
	SIP_HDR_PROXY_AUTHORIZATION,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_P_ASSERTED_IDENTITY,
	SIP_HDR_RACK,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_REFER_TO,
	SIP_HDR_REFERRED_BY,
	SIP_HDR_REPLY_TO,
	SIP_HDR_REQUIRE,
	SIP_HDR_RETRY_AFTER,
	SIP_HDR_ROUTE,
	SIP_HDR_RSEQ,
	SIP_HDR_SERVER,
	SIP_HDR_SESSION_EXPIRES,
	SIP_HDR_SUBJECT,
	SIP_HDR_SUBSCRIPTION_STATE,
	SIP_HDR_SUPPORTED,
	SIP_HDR_TIMESTAMP,
	SIP_HDR_TO,
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_USER_AGENT,
	SIP_HDR_VIA,
	SIP_HDR_WARNING,
	SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR_COUNT
};

/* Kinds of value a header carries, which decide how it is parsed. */
enum sip_hdr_kind {
	SIP_KIND_OPAQUE,     /* text kept as is (Subject, User-Agent...) */
	SIP_KIND_VIA,
	SIP_KIND_ADDR,       /* one name-addr/addr-spec with params (From, To) */
	SIP_KIND_ADDR_LIST,  /* comma list of them (Contact, Route...) */
	SIP_KIND_CSEQ,
	SIP_KIND_UINT,       /* delta-seconds, Max-Forwards, Content-Length */
	SIP_KIND_CALL_ID,
	SIP_KIND_DATE,
	SIP_KIND_TOKEN_LIST, /* comma list of tokens with params (Require...) */
	SIP_KIND_MEDIA,      /* one media type with params (Content-Type) */
	SIP_KIND_MEDIA_LIST, /* Accept */
	SIP_KIND_CREDENTIALS,/* Authorization, Proxy-Authorization */
	SIP_KIND_CHALLENGE,  /* WWW-Authenticate, Proxy-Authenticate */
	SIP_KIND_WARNING,
	SIP_KIND_RETRY_AFTER,
};

struct sip_hdr_info {
	const char *name;    /* canonical long form */
	char compact;        /* compact form letter, or 0 */
	enum sip_hdr_kind kind;
	bool single;         /* may appear once only (RFC 3261 7.3.1) */
	uint32_t max;        /* for SIP_KIND_UINT: largest legal value */
};

extern const struct sip_hdr_info sip_hdr_info[SIP_HDR_COUNT];

/* Identifies a header name (long or compact form, any case). */
enum sip_hdr_type sip_hdr_lookup(const char *name, size_t len);

struct sip_cseq {
	uint32_t seq;
	sip_str method;
};

/* A comma-list item: a token or media type with its parameters. */
struct sip_list_item {
	sip_str value;       /* "100rel", or "application/sdp" */
	sip_str type, subtype; /* media only */
	struct sip_param *params;
	struct sip_list_item *next;
};

struct sip_warning {
	unsigned code;
	sip_str agent;
	sip_str text;
	struct sip_warning *next;
};

struct sip_retry_after {
	uint32_t seconds;
	sip_str comment;
	struct sip_param *params;
};

int sip_parse_cseq(sip_str v, struct sip_cseq *out, struct sip_error *err);
/* 1*DIGIT up to max; values over max are a fault unless clamp, in which case
 * they read as max (RFC 3261: delta-seconds beyond 2^32-1). */
int sip_parse_uint_value(sip_str v, uint32_t max, bool clamp, const char *what,
			 uint32_t *out, struct sip_error *err);
int sip_parse_call_id(sip_str v, struct sip_error *err);
/* rfc1123-date, which must end in "GMT"; *out is seconds since 1970. */
int sip_parse_date(sip_str v, int64_t *out, struct sip_error *err);
int sip_parse_token_list(sip_str v, struct arena *a, struct sip_list_item **out,
			 const char *what, struct sip_error *err);
int sip_parse_media(sip_str v, struct arena *a, struct sip_list_item **out, bool list,
		    const char *what, struct sip_error *err);
int sip_parse_warning(sip_str v, struct arena *a, struct sip_warning **out, struct sip_error *err);
int sip_parse_retry_after(sip_str v, struct arena *a, struct sip_retry_after *out,
			  struct sip_error *err);

#endif
