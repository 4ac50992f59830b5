/*
 * Logging for every daemon, with OpenBSD's small vocabulary: log_warn (adds
 * strerror(errno)), log_warnx, log_info, log_debug, fatal, fatalx; plus
 * log_call, which puts "[Call-ID]" at the front of the line so that one grep
 * follows a call through every daemon it crossed.
 *
 * Levels are the syslog(3) priorities (LOG_ERR, LOG_WARNING, LOG_INFO,
 * LOG_DEBUG...), so a daemon passes the same constant whichever destination
 * it logs to. Because <syslog.h> owns the names LOG_SYSLOG (a facility) and
 * friends, the destinations are called LOG_TO_STDERR and LOG_TO_SYSLOG.
 *
 * A line is at most LOG_LINE_MAX bytes. Formatting happens in stack buffers;
 * the logging path never allocates, so it works when malloc does not (and
 * from a daemon that is out of memory and saying so). Control characters in
 * a message are shown escaped, so one event is always one line and text
 * from the network cannot forge lines. Every function keeps errno intact.
 *
 * stderr lines look like
 *   2025-11-25T13:20:01.123Z marshald[4242] info: [a84b4c76e66710@pc33] 100 Trying
 * (UTC, so the lines of daemons on hosts in different time zones sort
 * together). Syslog gets the same text minus timestamp and level, which
 * syslog carries itself; we write the datagram to /dev/log ourselves
 * rather than call syslog(3), because glibc's falls back to malloc for long
 * lines and blocks when the log daemon is slow: a SIP proxy would rather
 * drop a line (and count it) than stall its calls.
 */
#ifndef VOCAL_LOG_H
#define VOCAL_LOG_H

#include <stdarg.h>
#include <syslog.h>

#include "sip/str.h"

#define LOG_LINE_MAX 1024   /* bytes per line, newline included */
#define LOG_CALLID_MAX 128  /* bytes of escaped Call-ID per line */

#define LOG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

enum log_dest {
	LOG_TO_STDERR,
	LOG_TO_SYSLOG,   /* facility LOG_DAEMON */
};

/* Sets the name lines carry (e.g. "marshald"; the pointer is kept, so pass
 * a string that lives as long as the process), the destination and the
 * highest priority that is written (LOG_INFO usually, LOG_DEBUG for -d).
 * May be called again, e.g. when a daemon detaches and moves to syslog.
 * Before any call, lines go to stderr at LOG_INFO as "vocal". */
void log_init(const char *ident, enum log_dest dest, int level);

/* Changes the highest priority written. */
void log_setlevel(int level);
int log_getlevel(void);

/* Where LOG_TO_SYSLOG sends its datagrams; default "/dev/log". For tests
 * and for daemons that chroot. The pointer is kept. */
void log_set_syslog_path(const char *path);

/* Lines lost because the syslog socket was full or absent, since start. */
unsigned long log_dropped(void);

/* The message, then ": " and strerror(errno). Priority LOG_WARNING. */
void log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
/* The message alone, at LOG_WARNING. */
void log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);

/* Log at LOG_CRIT ("fatal: " + message, with strerror(errno) for fatal)
 * and exit(1), so that atexit handlers (the pid file) still run. */
void fatal(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

/* A line about one call: "[Call-ID] message" at the given priority. The
 * Call-ID is a slice of a message (not NUL-terminated, any bytes): bytes
 * outside printable ASCII and the backslash are written as \xHH and \\,
 * and at most LOG_CALLID_MAX bytes are written, ending in "..." when cut.
 * An absent Call-ID (s == NULL) is written "[-]". */
void log_call(int level, sip_str call_id, const char *fmt, ...) LOG_PRINTF(3, 4);

/* Like log_call, with ": strerror(errno)" appended: the warn of a call. */
void log_call_warn(sip_str call_id, const char *fmt, ...) LOG_PRINTF(2, 3);

/* The engine under all of the above, for wrappers: call_id may be NULL
 * (no prefix); errnum != 0 appends ": strerror(errnum)". */
void log_vmsg(int level, const sip_str *call_id, int errnum, const char *fmt, va_list ap)
	LOG_PRINTF(4, 0);

#endif
