/*
 * Daemon plumbing: argument parsing, -n and -v, the pid file lock (a second
 * instance is refused, the file goes at exit), reload semantics, signals
 * through the event loop, and a real daemonization in a forked child.
 */
#include "unit/testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "ev.h"

struct dconf {
	char *name;
	long long n;
};

static const struct config_key keys[] = {
	{.name = "name", CONFIG_STRING_AT(struct dconf, name), .def = "\"x\"", .desc = "a name"},
	{.name = "n", CONFIG_INT_AT(struct dconf, n), .def = "1", .min = 0, .max = 9,
	 .desc = "a number"},
	{0},
};

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vocal-test-daemon-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static const char *tmp_path(const char *name)
{
	static char paths[8][PATH_MAX];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
	return p;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_text(const char *path)
{
	size_t len;
	char *raw = read_file(path, &len);
	if (!raw)
		return NULL;
	char *s = malloc(len + 1);
	memcpy(s, raw, len);
	s[len] = '\0';
	free(raw);
	return s;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int wait_status(pid_t pid)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- arguments ---------------------------------------------------------- */

static int parse(struct daemon_opts *o, char *err, size_t errlen, int argc, ...)
{
	char *argv[16];
	va_list ap;
	va_start(ap, argc);
	argv[0] = "testd";
	for (int i = 1; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	*o = (struct daemon_opts){.conf_path = "/etc/vocal/testd.conf"};
	return daemon_parse_args(o, "testd", argc, argv, err, errlen);
}

static void test_parse_args(void **state)
{
	(void)state;
	struct daemon_opts o;
	char err[512];

	assert_int_equal(parse(&o, err, sizeof(err), 1), 0);
	assert_string_equal(o.conf_path, "/etc/vocal/testd.conf");
	assert_null(o.pid_path);
	assert_false(o.check || o.print || o.debug || o.detach);

	assert_int_equal(parse(&o, err, sizeof(err), 6, "-f", "a.conf", "-p", "x.pid", "-nv"), 0);
	assert_string_equal(o.conf_path, "a.conf");
	assert_string_equal(o.pid_path, "x.pid");
	assert_true(o.check && o.print);
	assert_false(o.debug || o.detach);

	assert_int_equal(parse(&o, err, sizeof(err), 3, "-fb.conf", "-dpy.pid"), 0);
	assert_string_equal(o.conf_path, "b.conf");
	assert_string_equal(o.pid_path, "y.pid");
	assert_true(o.debug);

	assert_int_equal(parse(&o, err, sizeof(err), 3, "-nf", "c.conf"), 0);
	assert_true(o.check);
	assert_string_equal(o.conf_path, "c.conf");

	assert_int_equal(parse(&o, err, sizeof(err), 2, "-D"), 0);
	assert_true(o.detach);

	assert_int_equal(parse(&o, err, sizeof(err), 2, "--"), 0);

	assert_int_equal(parse(&o, err, sizeof(err), 3, "-d", "-D"), -1);
	assert_string_equal(err, "testd: -d (foreground) and -D (detach) exclude each other\n"
				 "usage: testd [-dDnv] [-f file] [-p pidfile]");
	assert_int_equal(parse(&o, err, sizeof(err), 2, "-x"), -1);
	assert_string_equal(err, "testd: unknown option -x\n"
				 "usage: testd [-dDnv] [-f file] [-p pidfile]");
	assert_int_equal(parse(&o, err, sizeof(err), 2, "-n\x01"), -1);
	assert_non_null(strstr(err, "unknown option byte 0x01"));
	assert_int_equal(parse(&o, err, sizeof(err), 2, "-f"), -1);
	assert_non_null(strstr(err, "option -f needs an argument"));
	assert_int_equal(parse(&o, err, sizeof(err), 2, "-np"), -1);
	assert_non_null(strstr(err, "option -p needs an argument"));
	assert_int_equal(parse(&o, err, sizeof(err), 2, "extra"), -1);
	assert_non_null(strstr(err, "unexpected argument 'extra'"));
	assert_int_equal(parse(&o, err, sizeof(err), 3, "--", "-n"), -1);
	assert_non_null(strstr(err, "unexpected argument '-n'"));
	assert_int_equal(parse(&o, err, sizeof(err), 2, "-"), -1);
	assert_non_null(strstr(err, "unexpected argument '-'"));
}

/* ---- daemon_start: -n, -v, errors ------------------------------------- */

struct captured {
	int rc;
	char *out, *err;
};

/* Runs daemon_start with stdout and stderr sent to files. */
static struct captured start(struct daemon *d, int argc, char **argv)
{
	struct captured c;
	const char *out = tmp_path("stdout"), *err = tmp_path("stderr");
	fflush(stdout);
	fflush(stderr);
	int so = dup(1), se = dup(2);
	int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	dup2(fo, 1);
	dup2(fe, 2);
	close(fo);
	close(fe);
	c.rc = daemon_start(d, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(so, 1);
	dup2(se, 2);
	close(so);
	close(se);
	c.out = read_text(out);
	c.err = read_text(err);
	return c;
}

static void release(struct captured *c)
{
	free(c->out);
	free(c->err);
}

/* A daemon's check hook: refuses name = "refuse". */
static int check_name(const void *conf, char *err, size_t errlen)
{
	const struct dconf *c = conf;
	if (strcmp(c->name, "refuse") != 0)
		return 0;
	snprintf(err, errlen, "name %s: refused by the check", c->name);
	return -1;
}

static void test_start_check_and_print(void **state)
{
	(void)state;
	char *good = strdup(tmp_path("good.conf")), *bad = strdup(tmp_path("bad.conf"));
	write_text(good, "name = \"the name\"\n");
	write_text(bad, "# bad\nn = 10\n");
	struct daemon d = {.name = "testd", .table = keys, .conf_size = sizeof(struct dconf)};

	struct captured c = start(&d, 4, (char *[]){"testd", "-n", "-f", good, NULL});
	assert_int_equal(c.rc, 1);
	assert_string_equal(c.err, "configuration OK\n");
	assert_string_equal(c.out, "");
	assert_null(d.conf);
	release(&c);

	c = start(&d, 4, (char *[]){"testd", "-n", "-f", bad, NULL});
	assert_int_equal(c.rc, -1);
	assert_non_null(strstr(c.err, "bad.conf:2: n: 10 is out of range 0..9\n"));
	release(&c);

	c = start(&d, 4, (char *[]){"testd", "-v", "-f", good, NULL});
	assert_int_equal(c.rc, 1);
	assert_string_equal(c.out, "# a name\nname = \"the name\"\n\n# a number\nn = 1\n");
	assert_string_equal(c.err, "");
	release(&c);

	c = start(&d, 4, (char *[]){"testd", "-nv", "-f", good, NULL});
	assert_int_equal(c.rc, 1);
	assert_non_null(strstr(c.out, "name = \"the name\""));
	assert_string_equal(c.err, "configuration OK\n");
	release(&c);

	c = start(&d, 4, (char *[]){"testd", "-v", "-f", bad, NULL});
	assert_int_equal(c.rc, -1);
	assert_string_equal(c.out, "");
	assert_non_null(strstr(c.err, "bad.conf:2:"));
	release(&c);

	/* no -f and no default */
	c = start(&d, 2, (char *[]){"testd", "-n", NULL});
	assert_int_equal(c.rc, -1);
	assert_string_equal(c.err, "testd: no configuration file (use -f)\n");
	release(&c);

	/* a missing file */
	c = start(&d, 3, (char *[]){"testd", "-f", "/nonexistent.conf", NULL});
	assert_int_equal(c.rc, -1);
	assert_non_null(strstr(c.err, "/nonexistent.conf: No such file or directory"));
	release(&c);

	/* the daemon's own check after the syntax: its reason, after the path */
	struct daemon dc = d;
	dc.check = check_name;
	c = start(&dc, 4, (char *[]){"testd", "-n", "-f", good, NULL});
	assert_int_equal(c.rc, 1);
	assert_string_equal(c.err, "configuration OK\n");
	assert_null(dc.conf);
	release(&c);
	char *refused = strdup(tmp_path("refused.conf"));
	write_text(refused, "name = \"refuse\"\n");
	c = start(&dc, 4, (char *[]){"testd", "-n", "-f", refused, NULL});
	assert_int_equal(c.rc, -1);
	assert_non_null(strstr(c.err, "refused.conf: name refuse: refused by the check\n"));
	assert_null(strstr(c.err, "configuration OK"));
	assert_null(dc.conf);
	release(&c);
	c = start(&dc, 4, (char *[]){"testd", "-n", "-f", bad, NULL});
	assert_int_equal(c.rc, -1);
	assert_non_null(strstr(c.err, "bad.conf:2: n: 10 is out of range 0..9\n"));
	release(&c);
	free(refused);

	/* usage */
	c = start(&d, 2, (char *[]){"testd", "-q", NULL});
	assert_int_equal(c.rc, -1);
	assert_non_null(strstr(c.err, "usage: testd"));
	release(&c);

	/* the normal start: config loaded, path made absolute, pid file */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	const char *pid = tmp_path("start.pid");
	c = start(&d, 5, (char *[]){"testd", "-f", "good.conf", "-p", "start.pid", NULL});
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(c.rc, 0);
	assert_non_null(strstr(c.err, "info: starting with "));
	assert_string_equal(d.conf_path, good);
	assert_string_equal(((struct dconf *)d.conf)->name, "the name");
	assert_true(exists(pid));
	daemon_pidfile_remove();
	assert_false(exists(pid));
	daemon_free(&d);
	assert_null(d.conf);
	release(&c);
	free(good);
	free(bad);
}

/* ---- pid file ----------------------------------------------------------- */

static void test_pidfile(void **state)
{
	(void)state;
	const char *path = tmp_path("d.pid");
	char err[512], want[64];

	assert_int_equal(daemon_pidfile(path, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	char *text = read_text(path);
	assert_string_equal(text, want);
	free(text);

	/* one pid file per process */
	assert_int_equal(daemon_pidfile(tmp_path("other.pid"), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "has a pid file already"));

	/* a second instance is refused, and says who runs; its exit (with
	 * atexit handlers inherited from us) leaves our file alone */
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		daemon_pidfile_remove(); /* a child forgets the parent's file */
		char cerr[512];
		int rc = daemon_pidfile(path, cerr, sizeof(cerr));
		if (write(p[1], cerr, strlen(cerr) + 1) < 0)
			_exit(3);
		exit(rc == -1 ? 0 : 1);
	}
	close(p[1]);
	char childerr[512] = "";
	assert_true(read(p[0], childerr, sizeof(childerr)) > 0);
	close(p[0]);
	assert_int_equal(wait_status(pid), 0);
	snprintf(want, sizeof(want), "another instance is running (pid %ld)", (long)getpid());
	assert_non_null(strstr(childerr, want));
	assert_true(exists(path));

	/* removed on request; then a child takes it and removes it at exit */
	daemon_pidfile_remove();
	assert_false(exists(path));
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char cerr[512];
		if (daemon_pidfile(path, cerr, sizeof(cerr)) < 0 || !exists(path))
			_exit(1);
		exit(0);
	}
	assert_int_equal(wait_status(pid), 0);
	assert_false(exists(path));

	/* a stale file (a daemon killed with SIGKILL leaves one, unlocked) is
	 * taken over */
	write_text(path, "99999\n");
	assert_int_equal(daemon_pidfile(path, err, sizeof(err)), 0);
	text = read_text(path);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	assert_string_equal(text, want);
	free(text);
	daemon_pidfile_remove();

	/* a relative path still works after chdir("/") */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(daemon_pidfile("rel.pid", err, sizeof(err)), 0);
	assert_int_equal(chdir("/"), 0);
	assert_true(exists(tmp_path("rel.pid")));
	daemon_pidfile_remove();
	assert_false(exists(tmp_path("rel.pid")));
	assert_int_equal(chdir(cwd), 0);

	/* a directory that does not exist */
	assert_int_equal(daemon_pidfile("/nonexistent/x.pid", err, sizeof(err)), -1);
	assert_string_equal(err, "/nonexistent/x.pid: No such file or directory");
}

/* ---- reload and signals ------------------------------------------------- */

struct hook_log {
	int reloads, drains;
	bool refuse;
	long long seen_new, seen_old;
	struct ev_loop *loop;
};

static int on_reload(void *new_conf, const void *old_conf, void *arg)
{
	struct hook_log *h = arg;
	h->reloads++;
	h->seen_new = ((struct dconf *)new_conf)->n;
	h->seen_old = ((const struct dconf *)old_conf)->n;
	return h->refuse ? -1 : 0;
}

static void on_drain(void *arg)
{
	struct hook_log *h = arg;
	h->drains++;
}

static struct daemon loaded_daemon(const char *path, const char *text)
{
	char err[256];
	struct daemon d = {.name = "testd", .table = keys, .conf_size = sizeof(struct dconf)};
	write_text(path, text);
	d.conf_path = strdup(path);
	d.conf = calloc(1, sizeof(struct dconf));
	assert_int_equal(config_load(keys, d.conf, path, err, sizeof(err)), 0);
	return d;
}

static void test_reload(void **state)
{
	(void)state;
	const char *path = tmp_path("reload.conf");
	struct daemon d = loaded_daemon(path, "n = 3\n");
	struct hook_log h = {0};
	d.hooks = (struct daemon_hooks){on_reload, on_drain, &h};
	void *first = d.conf;

	/* a bad file: the old configuration stays, the hook is not asked */
	write_text(path, "n = 3\nname = \"unterminated\n");
	assert_int_equal(daemon_reload(&d), -1);
	assert_ptr_equal(d.conf, first);
	assert_int_equal(((struct dconf *)d.conf)->n, 3);
	assert_int_equal(h.reloads, 0);

	/* a good file the daemon refuses: the old one stays */
	write_text(path, "n = 4\n");
	h.refuse = true;
	assert_int_equal(daemon_reload(&d), -1);
	assert_ptr_equal(d.conf, first);
	assert_int_equal(h.reloads, 1);
	assert_int_equal(h.seen_new, 4);
	assert_int_equal(h.seen_old, 3);

	/* accepted: swapped, the old one freed (LeakSanitizer checks) */
	h.refuse = false;
	assert_int_equal(daemon_reload(&d), 0);
	assert_int_equal(((struct dconf *)d.conf)->n, 4);
	assert_int_equal(h.reloads, 2);

	/* the file vanished */
	unlink(path);
	assert_int_equal(daemon_reload(&d), -1);
	assert_int_equal(((struct dconf *)d.conf)->n, 4);

	/* no hook: every valid file is taken */
	d.hooks.reload = NULL;
	write_text(path, "n = 5\n");
	assert_int_equal(daemon_reload(&d), 0);
	assert_int_equal(((struct dconf *)d.conf)->n, 5);
	daemon_free(&d);
}

static void unblock_daemon_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void test_signals(void **state)
{
	(void)state;
	const char *path = tmp_path("signals.conf");
	struct daemon d = loaded_daemon(path, "n = 1\n");
	struct hook_log h = {0};
	struct ev_loop *loop = ev_loop_new();
	assert_non_null(loop);
	assert_int_equal(daemon_signals(&d, loop, &(struct daemon_hooks){on_reload, on_drain, &h}),
			 0);

	struct sigaction sa;
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_ptr_equal(sa.sa_handler, SIG_IGN);

	write_text(path, "n = 2\n");
	raise(SIGHUP);
	for (int i = 0; i < 10 && h.reloads == 0; i++)
		ev_run_once(loop, 100);
	assert_int_equal(h.reloads, 1);
	assert_int_equal(((struct dconf *)d.conf)->n, 2);

	/* a broken file on SIGHUP: logged, the old one kept */
	write_text(path, "n = two\n");
	raise(SIGHUP);
	ev_run_once(loop, 100);
	assert_int_equal(((struct dconf *)d.conf)->n, 2);

	raise(SIGTERM);
	for (int i = 0; i < 10 && h.drains == 0; i++)
		ev_run_once(loop, 100);
	assert_int_equal(h.drains, 1);
	assert_true(d.draining);

	ev_loop_free(loop);
	daemon_free(&d);
	unblock_daemon_signals();

	/* without a drain hook the loop just stops; a second signal while
	 * draining exits at once, with status 1 */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct daemon cd = {.name = "testd", .table = keys};
		struct ev_loop *cl = ev_loop_new();
		if (!cl || daemon_signals(&cd, cl, NULL) < 0)
			_exit(10);
		raise(SIGINT);
		ev_run(cl); /* returns: ev_break after SIGINT */
		if (!cd.draining)
			_exit(11);
		raise(SIGTERM);
		ev_run_once(cl, 1000); /* exits here */
		_exit(12);
	}
	assert_int_equal(wait_status(pid), 1);
}

/* ---- daemonizing -------------------------------------------------------- */

static pid_t read_pid(const char *path)
{
	char *text = read_text(path);
	if (!text)
		return -1;
	pid_t pid = (pid_t)strtol(text, NULL, 10);
	free(text);
	return pid;
}

static void link_target(pid_t pid, const char *what, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, what);
	ssize_t n = readlink(path, buf, cap - 1);
	buf[n > 0 ? n : 0] = '\0';
}

static void test_daemonize(void **state)
{
	(void)state;
	char *conf = strdup(tmp_path("d.conf")), *pidpath = strdup(tmp_path("daemon.pid"));
	write_text(conf, "n = 7\n");

	/* The test forks a "shell" S that runs the daemon's main: daemon_start
	 * -D detaches into a grandchild D; S waits until D is ready, then
	 * exits 0. */
	pid_t shell = fork();
	assert_true(shell >= 0);
	if (shell == 0) {
		static struct daemon d = {.name = "testd", .table = keys,
					  .conf_size = sizeof(struct dconf)};
		if (daemon_start(&d, 6, (char *[]){"testd", "-D", "-f", conf, "-p", pidpath, NULL}))
			_exit(20);
		/* in the daemon now */
		struct ev_loop *loop = ev_loop_new();
		if (!loop || daemon_signals(&d, loop, NULL) < 0)
			_exit(21);
		daemon_ready();
		ev_run(loop); /* until SIGTERM */
		ev_loop_free(loop);
		daemon_free(&d);
		exit(0); /* atexit removes the pid file */
	}
	assert_int_equal(wait_status(shell), 0);

	/* ready means the pid file names the daemon */
	pid_t daemon_pid = read_pid(pidpath);
	assert_true(daemon_pid > 0);
	assert_true(daemon_pid != shell && daemon_pid != getpid());
	assert_int_equal(kill(daemon_pid, 0), 0);
	/* its own session, and not its leader (so no controlling terminal) */
	assert_true(getsid(daemon_pid) != getsid(0));
	assert_true(getsid(daemon_pid) != daemon_pid);
	char target[PATH_MAX];
	link_target(daemon_pid, "cwd", target, sizeof(target));
	assert_string_equal(target, "/");
	for (int fd = 0; fd < 3; fd++) {
		char what[16];
		snprintf(what, sizeof(what), "fd/%d", fd);
		link_target(daemon_pid, what, target, sizeof(target));
		assert_string_equal(target, "/dev/null");
	}

	/* a second instance is refused while it runs */
	pid_t second = fork();
	assert_true(second >= 0);
	if (second == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 2);
		static struct daemon d2 = {.name = "testd", .table = keys,
					   .conf_size = sizeof(struct dconf)};
		_exit(daemon_start(&d2, 5, (char *[]){"testd", "-f", conf, "-p", pidpath, NULL}) ==
			      -1
		      ? 0
		      : 1);
	}
	assert_int_equal(wait_status(second), 0);

	/* SIGTERM: it drains (no hook: stops), exits, and the pid file goes */
	assert_int_equal(kill(daemon_pid, SIGTERM), 0);
	bool gone = false;
	for (int i = 0; i < 500 && !gone; i++) {
		gone = !exists(pidpath);
		if (!gone)
			nanosleep(&(struct timespec){0, 10000000}, NULL);
	}
	assert_true(gone);
	free(conf);
	free(pidpath);
}

static void test_daemon_dies_before_ready(void **state)
{
	(void)state;
	pid_t shell = fork();
	assert_true(shell >= 0);
	if (shell == 0) {
		char err[256];
		if (daemon_detach(err, sizeof(err)) < 0)
			_exit(20);
		_exit(3); /* the daemon fails its set-up: no daemon_ready */
	}
	/* the starting process reports the failure */
	assert_int_equal(wait_status(shell), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_args),
		cmocka_unit_test(test_start_check_and_print),
		cmocka_unit_test(test_pidfile),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_daemonize),
		cmocka_unit_test(test_daemon_dies_before_ready),
	};
	return cmocka_run_group_tests_name("daemon", tests, setup, teardown);
}
