#include "sip/error.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const fault_names[SIP_FAULT_COUNT] = {
	[SIP_FAULT_NONE] = "none",
	[SIP_FAULT_TOO_LARGE] = "too-large",
	[SIP_FAULT_START_LINE] = "bad-start-line",
	[SIP_FAULT_METHOD] = "bad-method",
	[SIP_FAULT_REQUEST_URI] = "bad-request-uri",
	[SIP_FAULT_VERSION] = "unsupported-version",
	[SIP_FAULT_STATUS_CODE] = "bad-status-code",
	[SIP_FAULT_REASON_PHRASE] = "bad-reason-phrase",
	[SIP_FAULT_HEADER_LINE] = "bad-header-line",
	[SIP_FAULT_HEADERS_UNTERMINATED] = "headers-unterminated",
	[SIP_FAULT_HEADER_VALUE] = "bad-header-value",
	[SIP_FAULT_DUPLICATE_HEADER] = "duplicate-header",
	[SIP_FAULT_MISSING_HEADER] = "missing-header",
	[SIP_FAULT_CONTENT_LENGTH] = "bad-content-length",
	[SIP_FAULT_BODY_TRUNCATED] = "body-truncated",
	[SIP_FAULT_CSEQ_METHOD] = "cseq-method-mismatch",
	[SIP_FAULT_NO_MEMORY] = "no-memory",
	[SIP_FAULT_BODY] = "bad-body",
};

const char *sip_fault_name(enum sip_fault f)
{
	return (unsigned)f < SIP_FAULT_COUNT ? fault_names[f] : "unknown";
}

int sip_fault_status(enum sip_fault f)
{
	switch (f) {
	case SIP_FAULT_NONE:
		return 200;
	case SIP_FAULT_VERSION:
		return 505;
	case SIP_FAULT_TOO_LARGE:
		return 513;
	case SIP_FAULT_NO_MEMORY:
		return 500;
	default:
		return 400;
	}
}

int sip_fail(struct sip_error *err, enum sip_fault f, const char *at,
	     const char *fmt, ...)
{
	if (!err || err->fault != SIP_FAULT_NONE)
		return -1;
	err->fault = f;
	err->offset = (err->base && at && at >= err->base) ? (size_t)(at - err->base) : 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
	return -1;
}
