/*
 * CPL's <mail> (feature/mail.h): the mailto URL (RFC 6068) with its
 * refusals (header fields other than subject, body, to, cc, reply-to;
 * CR, LF, NUL and other controls; bad escapes; addresses that are no
 * plain addr-spec; limits), the message of RFC 3880 7.1.1 (headers,
 * default subject, body, values from SIP made safe: a From with CR/LF
 * cannot add a header), and the mailer: the command gets the message on
 * stdin, a large one too (the non-blocking pipe), limits per minute, per
 * subscriber and on children, a failing command, a hanging one killed.
 */
#include "unit/testutil.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ev.h"
#include "feature/mail.h"

static struct mail_url u;
static char err[200];

static int parse(const char *url)
{
	return mail_url_parse(url, strlen(url), &u, err, sizeof(err));
}

static void refused(const char *url, const char *want)
{
	if (parse(url) == 0)
		fail_msg("%s: accepted, wanted \"%s\"", url, want);
	if (!strstr(err, want))
		fail_msg("%s: \"%s\" lacks \"%s\"", url, err, want);
	assert_null(strchr(err, '\n'));
	assert_null(strchr(err, '\r'));
}

/* ---- the URL ---------------------------------------------------------------- */

static void url_valid(void **state)
{
	/* RFC 3880 section 7.1's example */
	assert_int_equal(parse("mailto:jones@example.com?subject=Lookup%20failed"), 0);
	assert_int_equal(u.n_rcpt, 1);
	assert_int_equal(u.n_to, 1);
	assert_string_equal(u.rcpt[0].addr, "jones@example.com");
	assert_true(u.has_subject);
	assert_string_equal(u.subject, "Lookup failed");
	assert_false(u.has_body);
	/* several addresses, to and cc fields, any case, %-encoding */
	assert_int_equal(
	    parse("MAILTO:a%2Bb@example.com,c@d.example?CC=e@f.example,g@h.example&To=i@j.example"
		  "&body=line%201%0D%0Aline%202%0Aline%203&Subject=%C3%A9t%C3%A9"),
	    0);
	assert_int_equal(u.n_rcpt, 5);
	assert_int_equal(u.n_to, 3);
	assert_string_equal(u.rcpt[0].addr, "a+b@example.com");
	assert_int_equal(u.rcpt[2].kind, MAIL_CC);
	assert_string_equal(u.rcpt[3].addr, "g@h.example");
	assert_int_equal(u.rcpt[4].kind, MAIL_TO);
	assert_string_equal(u.body, "line 1\nline 2\nline 3");
	assert_string_equal(u.subject, "\xc3\xa9t\xc3\xa9");
	/* only a to field; reply-to; from is ignored (the server's wins) */
	assert_int_equal(parse("mailto:?to=x@y.example&reply-to=r@y.example&from=evil@z.example"),
			 0);
	assert_int_equal(u.n_rcpt, 2);
	assert_int_equal(u.rcpt[1].kind, MAIL_REPLY_TO);
	/* an empty subject is a subject */
	assert_int_equal(parse("mailto:x@y.example?subject="), 0);
	assert_true(u.has_subject);
	assert_string_equal(u.subject, "");
	assert_true(mail_addr_valid("first.last-x_y+tag@sub-1.example.org", 35));
}

static void url_refused(void **state)
{
	refused("http://example.com/", "not a mailto URL");
	refused("mailto", "not a mailto URL");
	refused("mailto:?subject=x", "no address");
	/* header fields: only the allowed ones */
	refused("mailto:x@y.example?bcc=z@y.example", "header field bcc is not allowed");
	refused("mailto:x@y.example?In-Reply-To=%3Ca@b%3E",
		"header field In-Reply-To is not allowed");
	refused("mailto:x@y.example?Content-Type=text/html", "not allowed");
	refused("mailto:x@y.example?%0D%0ABcc=z@y.example", "not allowed");
	refused("mailto:x@y.example?subject", "name=value");
	refused("mailto:x@y.example?=x", "name=value");
	/* header injection through a value */
	refused("mailto:x@y.example?subject=hi%0D%0ABcc:%20evil@z.example", "control character");
	refused("mailto:x@y.example?subject=hi%0ABcc:%20evil@z.example", "control character");
	refused("mailto:x@y.example?subject=hi%0D", "control character");
	refused("mailto:x@y.example?subject=hi%00", "NUL");
	refused("mailto:x@y.example?subject=hi%09there", "control character");
	refused("mailto:x@y.example?subject=%C2%85", "control character"); /* NEL, C1 */
	refused("mailto:x@y.example?body=a%00b", "NUL");
	refused("mailto:x@y.example?body=a%07b", "control character");
	refused("mailto:x%0D%0ABcc:evil@y.example", "addr-spec");
	refused("mailto:x@y.example%0D%0ABcc:evil@z.example", "addr-spec");
	refused("mailto:x@y.example?cc=a@b.example%0D%0ABcc:evil@z.example", "addr-spec");
	/* invalid UTF-8 */
	refused("mailto:x@y.example?subject=%FF", "UTF-8");
	refused("mailto:x@y.example?subject=%C0%AF", "UTF-8");
	/* escapes and characters */
	refused("mailto:x@y.example?subject=%zz", "%-escape");
	refused("mailto:x@y.example?subject=%4", "%-escape");
	refused("mailto:x@y.example?subject=a b", "%-encoded");
	refused("mailto:x@y.example?subject=\xc3\xa9", "%-encoded");
	refused("mailto:x@y.example#frag", "fragment");
	/* addresses: plain addr-specs only */
	refused("mailto:nobody", "addr-spec");
	refused("mailto:%22a%20b%22@y.example", "addr-spec");
	refused("mailto:%7Cprogram@y.example", "addr-spec");
	refused("mailto:%2Ftmp%2Ffile@y.example", "addr-spec");
	refused("mailto:a..b@y.example", "addr-spec");
	refused("mailto:.a@y.example", "addr-spec");
	refused("mailto:a@-y.example", "addr-spec");
	refused("mailto:a@y..example", "addr-spec");
	refused("mailto:a@y.example.", "addr-spec");
	refused("mailto:a@[127.0.0.1]", "addr-spec");
	refused("mailto:a@b@y.example", "addr-spec");
	refused("mailto:a@y.example,", "addr-spec");
	/* twice, too many, too long */
	refused("mailto:x@y.example?subject=a&subject=b", "twice");
	refused("mailto:x@y.example?body=a&body=b", "twice");
	refused("mailto:a@b.example,a@b.example,a@b.example,a@b.example,a@b.example,a@b.example,"
		"a@b.example,a@b.example,a@b.example",
		"too many");
	char big[MAIL_URL_MAX + 64];
	snprintf(big, sizeof(big), "mailto:x@y.example?body=");
	size_t n = strlen(big);
	memset(big + n, 'a', sizeof(big) - n - 1);
	big[sizeof(big) - 1] = 0;
	refused(big, "too long");
	char subj[400];
	snprintf(subj, sizeof(subj), "mailto:x@y.example?subject=");
	n = strlen(subj);
	memset(subj + n, 's', MAIL_SUBJECT_MAX + 1);
	subj[n + MAIL_SUBJECT_MAX + 1] = 0;
	refused(subj, "subject is too long");
	char local[128];
	memset(local, 'l', 65);
	snprintf(local + 65, sizeof(local) - 65, "@y.example");
	assert_false(mail_addr_valid(local, strlen(local)));
	char line[1200];
	snprintf(line, sizeof(line), "mailto:x@y.example?body=");
	n = strlen(line);
	memset(line + n, 'b', 950);
	line[n + 950] = 0;
	refused(line, "line too long");
}

/* ---- the message -------------------------------------------------------------- */

static char msg[MAIL_MESSAGE_MAX];

static struct mail_call call(void)
{
	return (struct mail_call){
	    .from_display = SIP_STR_LIT("Alice"),
	    .from_uri = SIP_STR_LIT("sip:alice@example.com"),
	    .to_uri = SIP_STR_LIT("sip:1001@vocal.test"),
	    .request_uri = SIP_STR_LIT("sip:1001@vocal.test"),
	    .call_id = SIP_STR_LIT("abc-123@host"),
	    .when = 1795645197, /* Wed, 25 Nov 2026 22:19:57 UTC */
	    .subscriber = "1001@vocal.test",
	    .done = "attempt 1 busy",
	};
}

static int build(const struct mail_call *c)
{
	return mail_build(&u, c, "cpl@vocal.test", "1.2.3.cpl", "vocal.test", msg, sizeof(msg));
}

/* The header section: CRLF lines only, each a header of the allowed set or
 * a continuation; returns the value of name (first line), or NULL. */
static const char *headers_ok(const char *name)
{
	static char value[1024];
	static const char *const allowed[] = {"From",
					      "To",
					      "Cc",
					      "Reply-To",
					      "Subject",
					      "Date",
					      "Message-ID",
					      "MIME-Version",
					      "Content-Type",
					      "Content-Transfer-Encoding",
					      "Auto-Submitted"};
	const char *end = strstr(msg, "\r\n\r\n");
	assert_non_null(end);
	const char *found = NULL;
	for (const char *p = msg; p < end + 2;) {
		const char *eol = strstr(p, "\r\n");
		assert_non_null(eol);
		for (const char *q = p; q < eol; q++)
			if (*q == '\r' || *q == '\n' || *q == 0)
				fail_msg("a bare CR or LF in the headers: %s", msg);
		assert_true(eol - p <= 998);
		if (*p != ' ') {
			bool ok = false;
			for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
				size_t n = strlen(allowed[i]);
				if (!strncmp(p, allowed[i], n) && p[n] == ':')
					ok = true;
			}
			if (!ok)
				fail_msg("unexpected header line: %.*s", (int)(eol - p), p);
			size_t n = strlen(name);
			if (!found && !strncmp(p, name, n) && p[n] == ':') {
				snprintf(value, sizeof(value), "%.*s", (int)(eol - p - n - 2),
					 p + n + 2);
				found = value;
			}
		}
		p = eol + 2;
	}
	return found;
}

static const char *body_of(void)
{
	return strstr(msg, "\r\n\r\n") + 4;
}

static void message_headers(void **state)
{
	assert_int_equal(
	    parse("mailto:jones@example.com,k@example.com?subject=Lookup%20failed&cc=c@example.com"
		  "&body=Call%20me%0D%0Aback"),
	    0);
	struct mail_call c = call();
	int n = build(&c);
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(msg));
	assert_string_equal(headers_ok("From"), "cpl@vocal.test");
	assert_string_equal(headers_ok("To"), "jones@example.com,");
	assert_non_null(strstr(msg, "To: jones@example.com,\r\n k@example.com\r\n"));
	assert_string_equal(headers_ok("Cc"), "c@example.com");
	assert_string_equal(headers_ok("Subject"), "Lookup failed");
	assert_string_equal(headers_ok("Reply-To"),
			    "alice@example.com"); /* the caller, 7.1.1 item 3 */
	assert_string_equal(headers_ok("Date"), "Wed, 25 Nov 2026 22:19:57 +0000");
	assert_string_equal(headers_ok("Message-ID"), "<1.2.3.cpl@vocal.test>");
	assert_string_equal(headers_ok("MIME-Version"), "1.0");
	assert_string_equal(headers_ok("Content-Type"), "text/plain; charset=UTF-8");
	assert_string_equal(headers_ok("Auto-Submitted"), "auto-generated");
	/* the body: the call, what the script did, then the URL's body */
	const char *b = body_of();
	assert_non_null(strstr(b, "1001@vocal.test"));
	assert_non_null(strstr(b, "Caller:      \"Alice\" <sip:alice@example.com>\r\n"));
	assert_non_null(strstr(b, "Called:      sip:1001@vocal.test\r\n"));
	assert_non_null(strstr(b, "Request-URI: sip:1001@vocal.test\r\n"));
	assert_non_null(strstr(b, "Call-ID:     abc-123@host\r\n"));
	assert_non_null(strstr(b, "Time:        Wed, 25 Nov 2026 22:19:57 +0000\r\n"));
	assert_non_null(strstr(b, "Script:      attempt 1 busy\r\n"));
	const char *own = strstr(b, "\r\nCall me\r\nback\r\n");
	assert_non_null(own);
	assert_true(own > strstr(b, "Call-ID:"));
	/* a reply-to of the URL wins over the caller's */
	assert_int_equal(parse("mailto:j@example.com?reply-to=r@example.com"), 0);
	assert_true(build(&c) > 0);
	assert_string_equal(headers_ok("Reply-To"), "r@example.com");
	/* the From's mailbox no plain address (a tel URI): no Reply-To */
	assert_int_equal(parse("mailto:j@example.com"), 0);
	c.from_uri = SIP_STR_LIT("tel:+15550001000");
	assert_true(build(&c) > 0);
	assert_null(headers_ok("Reply-To"));
	/* refusals: a bad From configured, no room */
	assert_int_equal(mail_build(&u, &c, "bad from", "1", "vocal.test", msg, sizeof(msg)), -1);
	assert_int_equal(mail_build(&u, &c, "a@b.example", "1>", "vocal.test", msg, sizeof(msg)),
			 -1);
	assert_int_equal(mail_build(&u, &c, "a@b.example", "1", "vocal.test", msg, 100), -1);
}

static void message_default_subject(void **state)
{
	assert_int_equal(parse("mailto:jones@example.com"), 0);
	struct mail_call c = call();
	assert_true(build(&c) > 0);
	/* no subject in the URL nor the call: [CPL] and who called */
	assert_string_equal(headers_ok("Subject"),
			    "[CPL] Call from \"Alice\" <sip:alice@example.com>");
	/* the call's subject (7.1.1 item 1), shown in the body too */
	c.subject = SIP_STR_LIT("Lunch?");
	c.priority = SIP_STR_LIT("urgent");
	assert_true(build(&c) > 0);
	assert_string_equal(headers_ok("Subject"), "[CPL] Lunch?");
	assert_non_null(strstr(body_of(), "Subject:     Lunch?\r\n"));
	assert_non_null(strstr(body_of(), "Priority:    urgent\r\n"));
	/* no display name */
	c = call();
	c.from_display = SIP_STR_NULL;
	assert_true(build(&c) > 0);
	assert_string_equal(headers_ok("Subject"), "[CPL] Call from sip:alice@example.com");
	/* non-ASCII: RFC 2047 encoded words, whole characters, folded */
	c = call();
	c.from_display =
	    SIP_STR_LIT("J\xc3\xb6rg \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac"
			"\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xe6\x97\xa5\xe6\x9c\xac"
			"\xe8\xaa\x9e");
	assert_true(build(&c) > 0);
	const char *s = headers_ok("Subject");
	assert_true(!strncmp(s, "=?UTF-8?B?", 10));
	assert_non_null(strstr(msg, "?=\r\n =?UTF-8?B?"));
	/* the body keeps UTF-8 as it is */
	assert_non_null(strstr(body_of(), "J\xc3\xb6rg"));
}

static void message_hostile_sip(void **state)
{
	assert_int_equal(parse("mailto:jones@example.com"), 0);
	struct mail_call c = call();
	/* CR/LF in the display name, URI, subject: no header of theirs */
	c.from_display = SIP_STR_LIT("Evil\r\nBcc: victim@example.com\r\n\r\nbody");
	c.from_uri = SIP_STR_LIT("sip:evil@example.com\r\nBcc: v2@example.com");
	c.subject = SIP_STR_NULL;
	c.call_id = SIP_STR_LIT("id\nBcc: v3@example.com");
	assert_true(build(&c) > 0);
	assert_null(strstr(msg, "\nBcc"));
	assert_null(strstr(msg, "\rBcc"));
	const char *s = headers_ok("Subject");
	assert_non_null(strstr(s, "Evil Bcc: victim@example.com body"));
	assert_null(headers_ok("Bcc"));
	assert_non_null(strstr(body_of(), "Call-ID:     id Bcc: v3@example.com\r\n"));
	/* invalid UTF-8, NUL, DEL, C1: replaced or blanked; long values cut */
	c = call();
	char big[2000];
	memset(big, 'x', sizeof(big));
	c.from_display = sip_str_make("a\xff\x00\x7f\xc2\x85z", 7);
	c.subject = sip_str_make(big, sizeof(big));
	c.request_uri = sip_str_make(big, sizeof(big));
	assert_true(build(&c) > 0);
	assert_non_null(strstr(body_of(), "Caller:      \"a? z\" <sip:alice@example.com>\r\n"));
	s = headers_ok("Subject");
	assert_true(strlen(s) < 200);
	assert_non_null(strstr(s, "xxx..."));
	assert_non_null(strstr(body_of(), "xxx...\r\n"));
	/* a subscriber name with a newline is one line */
	c = call();
	c.subscriber = "x\r\nBcc: y@example.com";
	assert_true(build(&c) > 0);
	assert_null(headers_ok("Bcc"));
	assert_null(strstr(msg, "\nBcc"));
	assert_non_null(strstr(body_of(), "script of x Bcc: y@example.com sent"));
}

/* ---- the mailer ------------------------------------------------------------------ */

static char dir[64];

static void write_script(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", text);
	fclose(f);
	chmod(path, 0755);
}

static int setup_dir(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/test_mail.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	signal(SIGPIPE, SIG_IGN); /* as featured (daemon_signals) */
	char text[256];
	snprintf(text, sizeof(text),
		 "sleep \"$1\"; n=$(ls %s | grep -c '^out' || true); cat > %s/out.$n.$$", dir, dir);
	write_script("store", text);
	write_script("fails", "cat >/dev/null; exit 3");
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static unsigned outputs(char *first, size_t cap)
{
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "ls %s | grep -c '^out'", dir);
	FILE *p = popen(cmd, "r");
	unsigned n = 0;
	if (fscanf(p, "%u", &n) != 1)
		n = 0;
	pclose(p);
	if (first && n) {
		snprintf(cmd, sizeof(cmd), "cat %s/out.*", dir);
		p = popen(cmd, "r");
		size_t len = fread(first, 1, cap - 1, p);
		first[len] = 0;
		pclose(p);
	}
	return n;
}

static void wait_all(struct ev_loop *loop, struct mailer *m)
{
	for (int i = 0; i < 400 && mailer_running(m); i++)
		ev_run_once(loop, 20);
	assert_int_equal(mailer_running(m), 0);
}

static void clear_outputs(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -f %s/out.*", dir);
	assert_int_equal(system(cmd), 0);
}

static void mailer_delivers(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct mailer_stats st = {0};
	struct mailer *m = mailer_new(loop, &st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "%s/store  0", dir);
	struct mailer_conf c = {.command = cmd,
				.max_children = 4,
				.max_per_minute = 100,
				.max_per_subscriber = 100,
				.timeout_ms = 5000};
	assert_int_equal(mailer_configure(m, &c, err, sizeof(err)), 0);
	clear_outputs();
	const char *text = "To: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n";
	assert_int_equal(mailer_send(m, 1, SIP_STR_LIT("cid-1"), text, strlen(text)),
			 MAILER_STARTED);
	wait_all(loop, m);
	static char got[300000];
	assert_int_equal(outputs(got, sizeof(got)), 1);
	assert_string_equal(got, text);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.failed, 0);
	/* more than a pipe holds, to a command that reads late: written
	 * as the pipe drains, without blocking */
	clear_outputs();
	snprintf(cmd, sizeof(cmd), "%s/store 0.3", dir);
	assert_int_equal(mailer_configure(m, &c, err, sizeof(err)), 0);
	static char large[200000];
	for (size_t i = 0; i < sizeof(large) - 1; i++)
		large[i] = (char)('a' + i % 26);
	large[sizeof(large) - 1] = 0;
	uint64_t t0 = ev_now(loop);
	assert_int_equal(mailer_send(m, 1, SIP_STR_LIT("cid-2"), large, strlen(large)),
			 MAILER_STARTED);
	ev_update_now(loop);
	assert_true(ev_now(loop) - t0 < 250); /* did not wait for the reader */
	wait_all(loop, m);
	assert_int_equal(outputs(got, sizeof(got)), 1);
	assert_string_equal(got, large);
	/* a command that fails is counted */
	snprintf(cmd, sizeof(cmd), "%s/fails", dir);
	assert_int_equal(mailer_configure(m, &c, err, sizeof(err)), 0);
	assert_int_equal(mailer_send(m, 1, SIP_STR_LIT("cid-3"), text, strlen(text)),
			 MAILER_STARTED);
	wait_all(loop, m);
	assert_int_equal(st.failed, 1);
	/* off, and unusable commands refused */
	c.command = "";
	assert_int_equal(mailer_configure(m, &c, err, sizeof(err)), 0);
	assert_int_equal(mailer_send(m, 1, SIP_STR_LIT("cid-4"), text, strlen(text)), MAILER_OFF);
	assert_int_equal(st.off, 1);
	c.command = "sendmail -t";
	assert_int_equal(mailer_configure(m, &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "absolute path"));
	c.command = "/nonexistent/sendmail -t";
	assert_int_equal(mailer_configure(m, &c, err, sizeof(err)), -1);
	mailer_free(m);
	ev_loop_free(loop);
}

static void mailer_limits(void **state)
{
	struct ev_loop *loop = ev_loop_new();
	struct mailer_stats st = {0};
	struct mailer *m = mailer_new(loop, &st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "%s/store 0", dir);
	struct mailer_conf c = {.command = cmd,
				.max_children = 4,
				.max_per_minute = 3,
				.max_per_subscriber = 2,
				.timeout_ms = 5000};
	assert_int_equal(mailer_configure(m, &c, err, sizeof(err)), 0);
	clear_outputs();
	const char *t = "To: a@b.example\r\n\r\nx\r\n";
	/* all in one minute (the test runs far from a minute's end, or the
	 * counts start again: then the drops below would be sends) */
	ev_update_now(loop);
	if (ev_now(loop) % 60000 > 55000)
		sleep(6), ev_update_now(loop);
	assert_int_equal(mailer_send(m, 7, SIP_STR_LIT("a"), t, strlen(t)), MAILER_STARTED);
	assert_int_equal(mailer_send(m, 7, SIP_STR_LIT("b"), t, strlen(t)), MAILER_STARTED);
	assert_int_equal(mailer_send(m, 7, SIP_STR_LIT("c"), t, strlen(t)),
			 MAILER_DROPPED); /* per subscriber */
	assert_int_equal(mailer_send(m, 8, SIP_STR_LIT("d"), t, strlen(t)), MAILER_STARTED);
	assert_int_equal(mailer_send(m, 9, SIP_STR_LIT("e"), t, strlen(t)),
			 MAILER_DROPPED); /* per minute */
	assert_int_equal(st.sent, 3);
	assert_int_equal(st.dropped, 2);
	wait_all(loop, m);
	assert_int_equal(outputs(NULL, 0), 3);
	/* children at once; a hanging command is killed at its timeout */
	snprintf(cmd, sizeof(cmd), "%s/store 30", dir);
	c = (struct mailer_conf){.command = cmd,
				 .max_children = 1,
				 .max_per_minute = 100,
				 .max_per_subscriber = 100,
				 .timeout_ms = 1000};
	assert_int_equal(mailer_configure(m, &c, err, sizeof(err)), 0);
	assert_int_equal(mailer_send(m, 1, SIP_STR_LIT("f"), t, strlen(t)), MAILER_STARTED);
	assert_int_equal(mailer_send(m, 2, SIP_STR_LIT("g"), t, strlen(t)), MAILER_DROPPED);
	assert_int_equal(mailer_running(m), 1);
	wait_all(loop, m);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.dropped, 3);
	/* freed with a command running: it is not left behind */
	assert_int_equal(mailer_send(m, 3, SIP_STR_LIT("h"), t, strlen(t)), MAILER_STARTED);
	mailer_free(m);
	ev_loop_free(loop);
	assert_int_equal(st.failed, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(url_valid),	   cmocka_unit_test(url_refused),
	    cmocka_unit_test(message_headers),	   cmocka_unit_test(message_default_subject),
	    cmocka_unit_test(message_hostile_sip), cmocka_unit_test(mailer_delivers),
	    cmocka_unit_test(mailer_limits),
	};
	return cmocka_run_group_tests_name("mail", tests, setup_dir, teardown_dir);
}
