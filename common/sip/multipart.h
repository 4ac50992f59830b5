/*
 * Multipart bodies (RFC 2046 5.1): split a body into its parts by the
 * boundary of the Content-Type. Parts are slices of the body; binary parts
 * (RFC 4475 mpart01) are fine because nothing looks inside them.
 */
#ifndef VOCAL_SIP_MULTIPART_H
#define VOCAL_SIP_MULTIPART_H

#include "arena.h"
#include "sip/error.h"
#include "sip/str.h"

struct sip_part {
	sip_str headers;      /* the part's header lines, without the blank line */
	sip_str content_type; /* value of its Content-Type, or empty */
	sip_str body;
	struct sip_part *next;
};

/* Splits body on "--boundary" delimiters. Returns the number of parts, or
 * -1 with err set when a delimiter or the closing delimiter is missing. */
int sip_multipart_parse(sip_str body, sip_str boundary, struct arena *a, struct sip_part **parts,
			struct sip_error *err);

#endif
