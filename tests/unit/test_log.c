/* Logging: line shape on stderr and syslog, levels, Call-ID prefix and
 * escaping, truncation, strerror. stderr is captured through a pipe. */
#include "unit/testutil.h"

#include <errno.h>
#include <regex.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"

static int saved_stderr = -1;
static int capture_fd = -1;
static char captured[8192];

static void capture_begin(void)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(p[1], STDERR_FILENO) >= 0);
	close(p[1]);
	capture_fd = p[0];
}

/* Restores stderr and returns what was written to it meanwhile. */
static const char *capture_end(void)
{
	size_t len = 0;
	ssize_t n;
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	while ((n = read(capture_fd, captured + len, sizeof(captured) - 1 - len)) > 0)
		len += (size_t)n;
	close(capture_fd);
	captured[len] = '\0';
	return captured;
}

static void assert_matches(const char *text, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
	int r = regexec(&re, text, 0, NULL, 0);
	regfree(&re);
	if (r != 0)
		fail_msg("\"%s\" does not match /%s/", text, pattern);
}

static void assert_ends_with(const char *text, const char *end)
{
	size_t t = strlen(text), e = strlen(end);
	if (t < e || strcmp(text + t - e, end) != 0)
		fail_msg("\"%s\" does not end with \"%s\"", text, end);
}

static int setup(void **state)
{
	(void)state;
	log_init("test", LOG_TO_STDERR, LOG_INFO);
	return 0;
}

#define STAMP "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"

static void test_line_shape(void **state)
{
	(void)state;
	capture_begin();
	log_info("hello %d", 42);
	const char *out = capture_end();
	assert_matches(out, "^" STAMP " test\\[[0-9]+\\] info: hello 42\n$");
	char pid[32];
	snprintf(pid, sizeof(pid), "[%ld]", (long)getpid());
	assert_non_null(strstr(out, pid));
}

static void test_levels(void **state)
{
	(void)state;
	capture_begin();
	log_debug("hidden");
	log_warnx("shown %s", "w");
	log_setlevel(LOG_DEBUG);
	assert_int_equal(log_getlevel(), LOG_DEBUG);
	log_debug("now shown");
	log_setlevel(LOG_WARNING);
	log_info("hidden too");
	log_setlevel(LOG_INFO);
	const char *out = capture_end();
	assert_null(strstr(out, "hidden"));
	assert_matches(out, "^" STAMP " test\\[[0-9]+\\] warning: shown w\n" STAMP
			    " test\\[[0-9]+\\] debug: now shown\n$");
}

static void test_warn_appends_strerror(void **state)
{
	(void)state;
	capture_begin();
	errno = ENOENT;
	log_warn("open %s", "/nonexistent");
	assert_int_equal(errno, ENOENT); /* logging keeps errno */
	errno = EACCES;
	log_call_warn(SIP_STR_LIT("c1@h"), "write");
	const char *out = capture_end();
	assert_matches(out, "warning: open /nonexistent: No such file or directory\n"
			    ".*warning: \\[c1@h\\] write: Permission denied\n$");
}

static void test_call_prefix(void **state)
{
	(void)state;
	capture_begin();
	log_call(LOG_INFO, SIP_STR_LIT("a84b4c76e66710@pc33.atlanta.com"), "INVITE from %s",
		 "alice");
	log_call(LOG_INFO, SIP_STR_NULL, "no call");
	log_call(LOG_DEBUG, SIP_STR_LIT("x@y"), "filtered");
	const char *out = capture_end();
	assert_matches(out, "^" STAMP " test\\[[0-9]+\\] info: "
			    "\\[a84b4c76e66710@pc33.atlanta.com\\] INVITE from alice\n" STAMP
			    " test\\[[0-9]+\\] info: \\[-\\] no call\n$");
}

static void test_call_escaping(void **state)
{
	(void)state;
	/* not NUL-terminated, with a NUL, a control byte, a blank, a
	 * backslash, a bracket and a byte over 0x7f */
	static const char raw[] = {'a', 0, 'b', 1, ' ', '\\', ']', (char)0xff, '@', 'h', 'X'};
	capture_begin();
	log_call(LOG_INFO, sip_str_make(raw, sizeof(raw) - 1), "m");
	const char *out = capture_end();
	assert_ends_with(out, "info: [a\\x00b\\x01\\x20\\\\]\\xff@h] m\n");
}

static void test_call_bounded(void **state)
{
	(void)state;
	char id[300], want[LOG_CALLID_MAX + 16];
	memset(id, 'a', sizeof(id));

	/* exactly the limit: written whole */
	capture_begin();
	log_call(LOG_INFO, sip_str_make(id, LOG_CALLID_MAX), "m");
	const char *out = capture_end();
	snprintf(want, sizeof(want), "[%.*s] m\n", LOG_CALLID_MAX, id);
	assert_ends_with(out, want);

	/* longer: cut, marked, within the limit */
	capture_begin();
	log_call(LOG_INFO, sip_str_make(id, sizeof(id)), "m");
	out = capture_end();
	snprintf(want, sizeof(want), "[%.*s...] m\n", LOG_CALLID_MAX - 3, id);
	assert_ends_with(out, want);

	/* escapes are never split: 4 bytes each, 31 fit before the mark */
	memset(id, 1, sizeof(id));
	capture_begin();
	log_call(LOG_INFO, sip_str_make(id, 100), "m");
	out = capture_end();
	char *p = want;
	*p++ = '[';
	for (int i = 0; i < 31; i++)
		p += sprintf(p, "\\x01");
	strcpy(p, "...] m\n");
	assert_ends_with(out, want);
}

static void test_message_escaping(void **state)
{
	(void)state;
	capture_begin();
	log_info("a\nb\tc\r\x7f" "d%s", "\x02");
	const char *out = capture_end();
	assert_ends_with(out, "info: a\\nb\\tc\\r\\x7fd\\x02\n");
	/* one line only */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
}

static void test_truncation(void **state)
{
	(void)state;
	static char big[5000];
	memset(big, 'x', sizeof(big) - 1);

	capture_begin();
	log_info("%s", big);
	const char *out = capture_end();
	assert_int_equal(strlen(out), LOG_LINE_MAX);
	assert_ends_with(out, "xx...(truncated)\n");

	/* strerror survives a long message */
	capture_begin();
	errno = EACCES;
	log_warn("%s", big);
	out = capture_end();
	assert_int_equal(strlen(out), LOG_LINE_MAX);
	assert_ends_with(out, "xx...(truncated): Permission denied\n");

	/* a long Call-ID and a long message together still fit */
	capture_begin();
	log_call(LOG_INFO, sip_str_make(big, 4000), "%s", big);
	out = capture_end();
	assert_int_equal(strlen(out), LOG_LINE_MAX);
	assert_ends_with(out, "...(truncated)\n");
}

static int bind_dgram(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	unlink(path);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

/* The next datagram, or "" when none comes within a short while. */
static const char *recv_line(int fd, char *buf, size_t cap)
{
	struct timeval tv = {0, 200000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = recv(fd, buf, cap - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_syslog(void **state)
{
	(void)state;
	char path[64], buf[2048], want[128];
	snprintf(path, sizeof(path), "/tmp/vocal-test-log-%ld.sock", (long)getpid());
	int fd = bind_dgram(path);

	log_set_syslog_path(path);
	log_init("test", LOG_TO_SYSLOG, LOG_INFO);
	unsigned long dropped = log_dropped();

	log_warnx("hello %d", 1);
	snprintf(want, sizeof(want), "test[%ld]: hello 1", (long)getpid());
	const char *got = recv_line(fd, buf, sizeof(buf));
	assert_true(strncmp(got, "<28>", 4) == 0); /* LOG_DAEMON | LOG_WARNING */
	assert_ends_with(got, want);

	log_call(LOG_INFO, SIP_STR_LIT("abc@h"), "ring");
	got = recv_line(fd, buf, sizeof(buf));
	assert_true(strncmp(got, "<30>", 4) == 0);
	assert_ends_with(got, "]: [abc@h] ring");

	log_debug("not sent");
	assert_string_equal(recv_line(fd, buf, sizeof(buf)), "");

	/* the log daemon goes away: lines are dropped and counted, not
	 * blocked on; when it is back, the loss is reported */
	close(fd);
	unlink(path);
	log_info("lost");
	assert_int_equal(log_dropped(), dropped + 1);
	fd = bind_dgram(path);
	log_info("back");
	assert_ends_with(recv_line(fd, buf, sizeof(buf)), "]: back");
	assert_ends_with(recv_line(fd, buf, sizeof(buf)),
			 "]: log: 1 lines dropped while syslog was busy or away");

	close(fd);
	unlink(path);
	log_set_syslog_path(NULL);
	log_init("test", LOG_TO_STDERR, LOG_INFO);
}

static void test_fatal_exits(void **state)
{
	(void)state;
	for (int with_errno = 0; with_errno < 2; with_errno++) {
		int p[2];
		assert_int_equal(pipe(p), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			dup2(p[1], STDERR_FILENO);
			errno = ENOENT;
			if (with_errno)
				fatal("cannot open %s", "x");
			fatalx("bad %d", 7);
		}
		close(p[1]);
		char buf[2048];
		ssize_t n, len = 0;
		while ((n = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
			len += n;
		buf[len] = '\0';
		close(p[0]);
		int status;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 1);
		assert_ends_with(buf, with_errno ? "crit: fatal: cannot open x: No such file or directory\n"
						 : "crit: fatal: bad 7\n");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_line_shape, setup),
		cmocka_unit_test_setup(test_levels, setup),
		cmocka_unit_test_setup(test_warn_appends_strerror, setup),
		cmocka_unit_test_setup(test_call_prefix, setup),
		cmocka_unit_test_setup(test_call_escaping, setup),
		cmocka_unit_test_setup(test_call_bounded, setup),
		cmocka_unit_test_setup(test_message_escaping, setup),
		cmocka_unit_test_setup(test_truncation, setup),
		cmocka_unit_test_setup(test_syslog, setup),
		cmocka_unit_test_setup(test_fatal_exits, setup),
	};
	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
