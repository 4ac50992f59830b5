#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TRUNC_MARK "...(truncated)"

static const char *log_ident = "vocal";
static enum log_dest log_dest = LOG_TO_STDERR;
static int log_level = LOG_INFO;
static const char *syslog_path = "/dev/log";
static int syslog_fd = -1;
static int syslog_type = SOCK_DGRAM;
static unsigned long dropped_total;     /* for log_dropped() */
static unsigned long dropped_unreported; /* told to syslog once it answers */

static const char *const level_name[] = {
	"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
};

/* A line being built in a fixed buffer: appends stop at the end. */
struct line {
	char *buf;
	size_t len, cap;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (n > l->cap - l->len)
		n = l->cap - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void puts_(struct line *l, const char *s)
{
	put(l, s, strlen(s));
}

static void putf(struct line *l, const char *fmt, ...) LOG_PRINTF(2, 3);
static void putf(struct line *l, const char *fmt, ...)
{
	va_list ap;
	size_t room = l->cap - l->len;
	va_start(ap, fmt);
	/* vsnprintf writes a NUL: format into the room plus the byte after
	 * it, which the caller's buffer always has (cap < sizeof buf). */
	int n = vsnprintf(l->buf + l->len, room + 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > room)
		n = (int)room;
	l->len += (size_t)n;
}

static const char hexdigit[] = "0123456789abcdef";

/* Writes one byte escaped into out (room for 4); returns its length.
 * In a message, only control characters are escaped (\n, \r, \t, \xHH);
 * in a Call-ID, everything but printable ASCII, and the backslash too, so
 * that the escaped form reads back unambiguously. */
static size_t escape_byte(unsigned char c, bool for_callid, char *out)
{
	if (c == '\\' && for_callid) {
		out[0] = out[1] = '\\';
		return 2;
	}
	if (for_callid ? (c > 0x20 && c < 0x7f) : (c >= 0x20 && c != 0x7f)) {
		out[0] = (char)c;
		return 1;
	}
	if (!for_callid && (c == '\n' || c == '\r' || c == '\t')) {
		out[0] = '\\';
		out[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		return 2;
	}
	out[0] = '\\';
	out[1] = 'x';
	out[2] = hexdigit[c >> 4];
	out[3] = hexdigit[c & 15];
	return 4;
}

/* Appends s[0..n) escaped, using at most max bytes of the line; when it
 * does not all fit, ends with mark (within max). */
static void put_escaped(struct line *l, const char *s, size_t n, bool for_callid, size_t max,
			const char *mark)
{
	size_t marklen = strlen(mark), total = 0;
	char e[4];
	if (max > l->cap - l->len)
		max = l->cap - l->len;
	/* Does it all fit? (Stops counting as soon as it does not.) */
	for (size_t i = 0; i < n && total <= max; i++)
		total += escape_byte((unsigned char)s[i], for_callid, e);
	size_t limit = total <= max ? max : max > marklen ? max - marklen : 0;
	size_t used = 0;
	for (size_t i = 0; i < n; i++) {
		size_t k = escape_byte((unsigned char)s[i], for_callid, e);
		if (used + k > limit)
			break;
		put(l, e, k);
		used += k;
	}
	if (total > max)
		put(l, mark, marklen < max - used ? marklen : max - used);
}

static void put_callid(struct line *l, const sip_str *cid)
{
	if (!cid->s) {
		puts_(l, "[-] ");
		return;
	}
	puts_(l, "[");
	put_escaped(l, cid->s, cid->len, true, LOG_CALLID_MAX, "...");
	puts_(l, "] ");
}

static void put_header(struct line *l, int level)
{
	if (log_dest == LOG_TO_SYSLOG) {
		/* RFC 3164 framing as glibc writes it; the log daemon replaces
		 * the local time stamp with its own anyway. */
		time_t now = time(NULL);
		struct tm tm;
		char stamp[32] = "";
		localtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
		putf(l, "<%d>%s %.32s[%ld]: ", LOG_DAEMON | level, stamp, log_ident,
		     (long)getpid());
		return;
	}
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	putf(l, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %.32s[%ld] %s: ", tm.tm_year + 1900,
	     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	     log_ident, (long)getpid(), level_name[level & 7]);
}

static void syslog_close(void)
{
	if (syslog_fd >= 0)
		close(syslog_fd);
	syslog_fd = -1;
}

static void syslog_connect(void)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (syslog_fd >= 0 || strlen(syslog_path) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, syslog_path, strlen(syslog_path) + 1);
	/* journald and rsyslog listen on datagrams; some old set-ups on a
	 * stream, which we try when the datagram connect says so. */
	for (int attempt = 0; attempt < 2; attempt++) {
		syslog_fd = socket(AF_UNIX, syslog_type | SOCK_CLOEXEC, 0);
		if (syslog_fd < 0)
			return;
		if (connect(syslog_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return;
		int e = errno;
		syslog_close();
		if (e != EPROTOTYPE)
			return;
		syslog_type = syslog_type == SOCK_DGRAM ? SOCK_STREAM : SOCK_DGRAM;
	}
}

/* Sends one line (a stream gets a NUL after it, as glibc does); returns
 * 0 or -1 when the line is lost. Never blocks. */
static int syslog_send(const char *buf, size_t len)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		syslog_connect();
		if (syslog_fd < 0)
			return -1;
		ssize_t n = send(syslog_fd, buf, syslog_type == SOCK_STREAM ? len + 1 : len,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n >= 0)
			return 0;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			return -1;
		/* the log daemon restarted: reconnect once */
		syslog_close();
	}
	return -1;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static void emit(int level, const sip_str *call_id, const char *prefix, int errnum,
		 const char *fmt, va_list ap) LOG_PRINTF(5, 0);

static void emit_notice(const char *fmt, ...) LOG_PRINTF(1, 2);
static void emit_notice(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(LOG_WARNING, NULL, "", 0, fmt, ap);
	va_end(ap);
}

static void emit(int level, const sip_str *call_id, const char *prefix, int errnum,
		 const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX + 1];
	char msg[LOG_LINE_MAX];
	char suffix[160] = "";
	/* one byte for the newline (stderr) or the NUL (stream syslog) */
	struct line l = {buf, 0, LOG_LINE_MAX - 1};

	if (errnum) {
		char ebuf[128];
		snprintf(suffix, sizeof(suffix), ": %s", strerror_r(errnum, ebuf, sizeof(ebuf)));
	}
	/* a message longer than msg is longer than the line's room too, so
	 * put_escaped below cuts and marks it */
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t mlen = n < 0 ? 0 : (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1;

	put_header(&l, level);
	if (call_id)
		put_callid(&l, call_id);
	puts_(&l, prefix);
	/* strerror is the most useful part of a long warning: keep its room */
	size_t slen = strlen(suffix);
	size_t room = l.cap - l.len > slen ? l.cap - l.len - slen : 0;
	put_escaped(&l, msg, mlen, false, room, TRUNC_MARK);
	puts_(&l, suffix);

	if (log_dest == LOG_TO_SYSLOG) {
		buf[l.len] = '\0';
		if (syslog_send(buf, l.len) < 0) {
			dropped_total++;
			dropped_unreported++;
		} else if (dropped_unreported) {
			unsigned long d = dropped_unreported;
			dropped_unreported = 0;
			emit_notice("log: %lu lines dropped while syslog was busy or away", d);
		}
		return;
	}
	buf[l.len] = '\n';
	write_all(STDERR_FILENO, buf, l.len + 1);
}

void log_init(const char *ident, enum log_dest dest, int level)
{
	int saved = errno;
	log_ident = ident ? ident : "vocal";
	log_dest = dest;
	log_level = level;
	if (dest == LOG_TO_SYSLOG) {
		/* Read the time zone now: later localtime_r calls then never
		 * open a file or allocate. */
		tzset();
		syslog_close();
		syslog_type = SOCK_DGRAM;
		syslog_connect();
	}
	errno = saved;
}

void log_setlevel(int level)
{
	log_level = level;
}

int log_getlevel(void)
{
	return log_level;
}

void log_set_syslog_path(const char *path)
{
	syslog_path = path ? path : "/dev/log";
	syslog_close();
	syslog_type = SOCK_DGRAM;
}

unsigned long log_dropped(void)
{
	return dropped_total;
}

void log_vmsg(int level, const sip_str *call_id, int errnum, const char *fmt, va_list ap)
{
	if (level > log_level)
		return;
	int saved = errno;
	emit(level, call_id, "", errnum, fmt, ap);
	errno = saved;
}

#define LOG_VA(level, cid, errnum)                       \
	do {                                             \
		va_list ap;                              \
		va_start(ap, fmt);                       \
		log_vmsg(level, cid, errnum, fmt, ap);   \
		va_end(ap);                              \
	} while (0)

void log_warn(const char *fmt, ...)
{
	LOG_VA(LOG_WARNING, NULL, errno);
}

void log_warnx(const char *fmt, ...)
{
	LOG_VA(LOG_WARNING, NULL, 0);
}

void log_info(const char *fmt, ...)
{
	LOG_VA(LOG_INFO, NULL, 0);
}

void log_debug(const char *fmt, ...)
{
	LOG_VA(LOG_DEBUG, NULL, 0);
}

void log_call(int level, sip_str call_id, const char *fmt, ...)
{
	LOG_VA(level, &call_id, 0);
}

void log_call_warn(sip_str call_id, const char *fmt, ...)
{
	LOG_VA(LOG_WARNING, &call_id, errno);
}

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(LOG_CRIT, NULL, "fatal: ", errno, fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	emit(LOG_CRIT, NULL, "fatal: ", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
