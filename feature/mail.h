/*
 * CPL's <mail> (RFC 3880 section 7.1): the mailto URL a script gives
 * (RFC 6068), the message sent for it (section 7.1.1), and its delivery
 * through a sendmail-compatible command.
 *
 * The URL comes from a subscriber's script and the call's details from
 * the caller's SIP request: both are untrusted. mail_url_parse() accepts
 * only plain addresses and the header fields subject, body, to, cc and
 * reply-to (from is ignored: RFC 3880 7.1.1 item 2), with nothing in a
 * header that could end it (CR, LF, NUL, other controls); mail_build()
 * makes every value from SIP safe for a header line (controls dropped,
 * length limited, non-ASCII as RFC 2047 encoded words). Both are pure.
 *
 * The mailer (mail_send.c) runs the configured command without a shell,
 * feeds it the message through a non-blocking pipe, reaps it from a timer
 * of the event loop, and bounds what a script mailing on every call can
 * cost: children at once, mails per minute in all and per subscriber.
 */
#ifndef VOCAL_FEATURE_MAIL_H
#define VOCAL_FEATURE_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "sip/str.h"

#define MAIL_URL_MAX	 2048  /* a mailto URL, as the script has it */
#define MAIL_ADDR_MAX	 254   /* one address (RFC 5321: 64 @ 255, path 256) */
#define MAIL_MAX_RCPTS	 8     /* to, cc and reply-to addresses, in all */
#define MAIL_SUBJECT_MAX 200   /* decoded bytes */
#define MAIL_BODY_MAX	 2000  /* decoded bytes */
#define MAIL_MESSAGE_MAX 16384 /* a built message */

enum mail_rcpt_kind { MAIL_TO, MAIL_CC, MAIL_REPLY_TO };

struct mail_url {
	struct {
		uint8_t kind; /* enum mail_rcpt_kind */
		char addr[MAIL_ADDR_MAX + 1];
	} rcpt[MAIL_MAX_RCPTS];
	unsigned n_rcpt;
	unsigned n_to; /* at least 1 when parsed */
	bool has_subject, has_body;
	char subject[MAIL_SUBJECT_MAX + 1]; /* UTF-8, no controls */
	char body[MAIL_BODY_MAX + 1];	    /* UTF-8, lines end in LF, no other controls but TAB */
};

/* Parses a mailto URL (RFC 6068) of len bytes. Returns 0, or -1 with a
 * one-line reason in err that never quotes the URL (safe to log): not a
 * mailto URL, too long, a bad %-escape, an address that is no plain
 * addr-spec (dot-atom@domain, ASCII), too many addresses, no To, a header
 * field other than subject, body, to, cc, reply-to and from, one given
 * twice (subject, body), a value with CR, LF, NUL or another control (the
 * body may have line breaks, as RFC 6068 section 5 writes them: %0D%0A),
 * invalid UTF-8. */
int mail_url_parse(const char *url, size_t len, struct mail_url *out, char *err, size_t errlen);

/* Whether s (len bytes) is an address mail_url_parse accepts. */
bool mail_addr_valid(const char *s, size_t len);

/* What the message says about the call and the script. Strings are
 * untrusted and may be absent (s == NULL). */
struct mail_call {
	sip_str from_display, from_uri; /* the request's From */
	sip_str to_uri;			/* its To */
	sip_str request_uri;
	sip_str call_id;
	sip_str subject;	/* the request's Subject */
	sip_str priority;	/* its Priority */
	time_t when;		/* the call's start */
	const char *subscriber; /* the script's owner (AOR) */
	bool outgoing;		/* the script's outgoing action */
	const char *done;	/* what the script did before the mail, one line */
};

/* Writes the message (RFC 5322, CRLF line ends, for `sendmail -t`) for
 * url and call into out (cap bytes, NUL-terminated): From (from_addr,
 * which must be valid: mail_addr_valid), To, Cc, Reply-To (the URL's,
 * else the caller's sip/sips From URI without its scheme when that is a
 * plain address: RFC 3880 7.1.1 item 3), Subject (the URL's, else "[CPL]"
 * and the request's Subject, else "[CPL] Call from" the caller), Date,
 * Message-ID (<msgid_left@msgid_right>), MIME-Version, Content-Type
 * text/plain; charset=UTF-8, Content-Transfer-Encoding 8bit, Auto-
 * Submitted: auto-generated (RFC 3834); the body: the call (caller with
 * display name, callee, Request-URI, Call-ID, time, subject, priority) and
 * what the script did, then the URL's body. Returns the length, or -1
 * when it does not fit. */
int mail_build(const struct mail_url *url, const struct mail_call *call, const char *from_addr,
	       const char *msgid_left, const char *msgid_right, char *out, size_t cap);

/* ---- delivery (mail_send.c) ----------------------------------------------- */

struct ev_loop;
struct mailer;

struct mailer_conf {
	const char *command;	     /* "/usr/sbin/sendmail -t -i"; "" = mail off */
	unsigned max_children;	     /* commands running at once */
	unsigned max_per_minute;     /* mails sent in one clock minute, in all */
	unsigned max_per_subscriber; /* ... by one subscriber's scripts */
	unsigned timeout_ms;	     /* a command still running then is killed */
};

struct mailer_stats {
	uint64_t sent;	  /* commands started */
	uint64_t failed;  /* could not start, exited non-zero, or killed */
	uint64_t dropped; /* over a limit: not sent */
	uint64_t refused; /* a URL mail_url_parse refused */
	uint64_t off;	  /* mail.command empty: not sent */
};

enum mailer_result {
	MAILER_STARTED,
	MAILER_OFF,	/* no command configured */
	MAILER_DROPPED, /* a limit */
	MAILER_FAILED,	/* the command could not be started */
};

/* A mailer on loop, counting into *stats (the caller's). mailer_configure applies (again, on
 * SIGHUP) a configuration; it splits the command on blanks into argv (no shell), and returns -1
 * with a reason in err when the command is unusable (not an absolute path to an executable). */
struct mailer *mailer_new(struct ev_loop *loop, struct mailer_stats *stats);
int mailer_configure(struct mailer *m, const struct mailer_conf *c, char *err, size_t errlen);
/* Sends msg (len bytes, copied) for subscriber sub_id: starts the command
 * with the message on its standard input, unless a limit says no. Never
 * blocks. call_id names the call in the log lines. */
enum mailer_result mailer_send(struct mailer *m, int64_t sub_id, sip_str call_id, const char *msg,
			       size_t len);
/* Commands still running (or being fed). */
unsigned mailer_running(const struct mailer *m);
/* Waits a little (at most 2 s) for the commands still running, kills
 * (SIGKILL) and reaps what is left, frees everything. */
void mailer_free(struct mailer *m);

#endif
