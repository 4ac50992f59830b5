/*
 * libFuzzer target: CPL's <mail> (feature/mail.h): mail_url_parse of a
 * mailto URL, then mail_build of its message with call details that are
 * hostile too.
 *
 * Input: a mailto URL; optionally followed by a NUL byte and the SIP
 * values of the call, separated by NUL bytes in this order: From display
 * name, From URI, To URI, Request-URI, Call-ID, Subject, Priority.
 *
 * Properties (__builtin_trap when broken):
 *
 *  - parsing never crashes; a refusal has a one-line, non-empty reason;
 *  - an accepted URL has 1..MAIL_MAX_RCPTS addresses, at least one To,
 *    each a valid address without CR, LF or blanks; a subject without
 *    any control character; a body whose only controls are LF and TAB;
 *  - its message builds (MAIL_MESSAGE_MAX is enough for any accepted URL
 *    and any call), and its header section is CRLF lines only, none
 *    longer than 998 bytes, each a header of the set mail_build writes or
 *    a folded continuation, with no bare CR, LF or NUL; exactly one From,
 *    To, Subject, Date and Message-ID.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "feature/mail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const allowed[] = {
    "From",	     "To",	   "Cc",	   "Reply-To",	   "Subject",
    "Date",	     "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    "Auto-Submitted"};
#define N_ALLOWED (sizeof(allowed) / sizeof(allowed[0]))

static void check_headers(const char *msg, size_t len)
{
	const char *end = strstr(msg, "\r\n\r\n");
	CHECK(end != NULL);
	CHECK(strlen(msg) == len);
	unsigned seen[N_ALLOWED] = {0};
	for (const char *p = msg; p < end + 2;) {
		const char *eol = strstr(p, "\r\n");
		CHECK(eol != NULL && eol <= end);
		CHECK(eol - p <= 998);
		for (const char *q = p; q < eol; q++)
			CHECK(*q != '\r' && *q != '\n');
		if (*p == ' ') {
			CHECK(p != msg);
		} else {
			bool ok = false;
			for (size_t i = 0; i < N_ALLOWED && !ok; i++) {
				size_t n = strlen(allowed[i]);
				if (!strncmp(p, allowed[i], n) && p[n] == ':' && p[n + 1] == ' ') {
					ok = true;
					seen[i]++;
				}
			}
			CHECK(ok);
		}
		p = eol + 2;
	}
	for (size_t i = 0; i < N_ALLOWED; i++)
		CHECK(seen[i] <= 1);
	CHECK(seen[0] == 1 && seen[1] == 1 && seen[4] == 1 && seen[5] == 1 && seen[6] == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nul = memchr(in, 0, size);
	size_t ulen = nul ? (size_t)(nul - in) : size;
	static struct mail_url u;
	char err[200];
	err[0] = 0;
	if (mail_url_parse(in, ulen, &u, err, sizeof(err)) < 0) {
		CHECK(err[0] && !strchr(err, '\n') && !strchr(err, '\r'));
		return 0;
	}
	CHECK(u.n_rcpt >= 1 && u.n_rcpt <= MAIL_MAX_RCPTS && u.n_to >= 1 && u.n_to <= u.n_rcpt);
	for (unsigned i = 0; i < u.n_rcpt; i++) {
		const char *a = u.rcpt[i].addr;
		CHECK(mail_addr_valid(a, strlen(a)));
		CHECK(!strpbrk(a, "\r\n \t,<>\"|/"));
	}
	for (const char *p = u.subject; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	for (const char *p = u.body; *p; p++)
		CHECK((unsigned char)*p >= 0x20 || *p == '\n' || *p == '\t');
	CHECK(!strchr(u.body, '\r'));

	/* the call's values: the rest of the input */
	sip_str v[7] = {{0}};
	size_t off = nul ? ulen + 1 : size;
	for (int i = 0; i < 7 && off <= size && nul; i++) {
		const char *s = in + off;
		const char *e = memchr(s, 0, size - off);
		size_t n = e ? (size_t)(e - s) : size - off;
		v[i] = sip_str_make(s, n);
		off += n + 1;
		if (!e)
			break;
	}
	struct mail_call c = {
	    .from_display = v[0],
	    .from_uri = v[1],
	    .to_uri = v[2],
	    .request_uri = v[3],
	    .call_id = v[4],
	    .subject = v[5],
	    .priority = v[6],
	    .when = (time_t)size * 86400 * 7,
	    .subscriber = "1001@vocal.test",
	    .outgoing = size & 1,
	    .done = "attempt 1 busy",
	};
	static char msg[MAIL_MESSAGE_MAX];
	int n = mail_build(&u, &c, "cpl@vocal.test", "1.2.3.cpl", "vocal.test", msg, sizeof(msg));
	CHECK(n > 0);
	check_headers(msg, (size_t)n);
	return 0;
}
