/*
 * libFuzzer target: stream framing (sip_frame_stream, common/sip/msg.h).
 *
 * Input: one control byte, then the bytes a TCP peer sends. The control
 * byte picks the size limit (low 2 bits) and how the bytes arrive: one at
 * a time when bit 7 is set (every split point is tried), else in random
 * pieces seeded by the byte and the length. After each piece the receiver
 * frames as many messages as it can, as a connection handler does. Every call gets
 * an exactly sized heap copy, so reading past the data is caught by ASan.
 * Properties (__builtin_trap when broken):
 *
 *  - the skipped CRLFs and the framed length fit in the data;
 *  - "need more" (0) is only answered while the data is under the limit,
 *    so a peer cannot make the receiver buffer without bound;
 *  - more data never changes an answer already given: a length found (or
 *    a fault seen) with part of the data is found with all of it;
 *  - a framed message parses in stream mode to the same length, or fails
 *    for a reason framing does not look at (start line, memory).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/msg.h"
#include "check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static const size_t limits[4] = {0, 96, 512, 4096}; /* 0: the default 65535 */

struct answer {
	long r;
	size_t skip;
	enum sip_fault fault;
};

/* Frames buf[0..len) from an exactly sized copy. */
static struct answer frame(const char *buf, size_t len, size_t max)
{
	char *copy = malloc(len ? len : 1);
	CHECK(copy);
	if (len)
		memcpy(copy, buf, len);
	struct sip_error err = {0};
	struct answer a = {0, 0, SIP_FAULT_NONE};
	a.skip = (size_t)-1;
	a.r = sip_frame_stream(copy, len, max, &a.skip, &err);
	a.fault = err.fault;
	free(copy);
	CHECK(a.r >= -1);
	CHECK(a.r != -1 || a.fault != SIP_FAULT_NONE);
	CHECK(a.r == -1 || a.skip <= len);
	CHECK(a.r <= 0 || a.skip + (size_t)a.r <= len);
	return a;
}

/* A framed message must parse in stream mode to the same length, unless
 * its start line is bad (framing does not look at it). */
static void parse_framed(const char *buf, size_t len, size_t max)
{
	char *copy = malloc(len);
	CHECK(copy);
	memcpy(copy, buf, len);
	struct sip_parse_opts opts = {.stream = true, .max_size = max};
	struct sip_msg *m = malloc(sizeof(*m));
	CHECK(m);
	struct sip_error err = {0};
	if (sip_msg_parse(m, copy, len, &opts, &err) == 0) {
		CHECK(m->buf == copy && m->len == len);
	} else {
		switch (err.fault) {
		case SIP_FAULT_START_LINE:
		case SIP_FAULT_METHOD:
		case SIP_FAULT_REQUEST_URI:
		case SIP_FAULT_VERSION:
		case SIP_FAULT_STATUS_CODE:
		case SIP_FAULT_REASON_PHRASE:
		case SIP_FAULT_NO_MEMORY:
			break;
		default:
			CHECK(!"framing and parsing disagree");
		}
	}
	sip_msg_free(m);
	free(m);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t max = limits[data[0] & 3];
	size_t eff_max = max ? max : SIP_DEFAULT_MAX_MESSAGE;
	bool bytewise = data[0] & 0x80;
	uint32_t rng = (0x9e3779b9u ^ data[0]) + (uint32_t)size * 2654435761u;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	if (bytewise && n > 1024)
		n = 1024; /* every prefix is framed twice: keep it quick */

	size_t start = 0, avail = 0; /* consumed, received */
	while (start < n || avail < n) {
		/* next piece: mostly small, sometimes large (xorshift32) */
		rng ^= rng << 13;
		rng ^= rng >> 17;
		rng ^= rng << 5;
		size_t piece = bytewise ? 1 : (rng & 0x100) ? (rng & 0xff) + 1 : (rng & 7) + 1;
		avail = avail + piece < n ? avail + piece : n;

		while (start < avail) {
			size_t len = avail - start;
			struct answer a = frame(s + start, len, max);
			if (a.r == 0) {
				CHECK(len - a.skip < eff_max);
				break; /* wait for the next piece */
			}
			/* all the data still to come gives the same answer */
			struct answer all = frame(s + start, n - start, max);
			if (a.r < 0) {
				CHECK(all.r == -1);
				return 0; /* the receiver closes the connection */
			}
			CHECK(all.r == a.r && all.skip == a.skip);
			parse_framed(s + start + a.skip, (size_t)a.r, max);
			start += a.skip + (size_t)a.r;
		}
		if (avail == n)
			break;
	}
	return 0;
}
