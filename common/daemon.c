#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "ev.h"
#include "log.h"

/* The one pid file of this process. */
static struct {
	int fd;
	pid_t owner;            /* only this pid removes it (not forked children) */
	bool atexit_set;
	char path[PATH_MAX];
} pidfile = {.fd = -1};

static int ready_fd = -1;            /* daemon_detach's pipe to the waiting parent */
static const char *syslog_ident;     /* set when -D: daemon_ready moves logs to syslog */

#define USAGE_FMT "usage: %s [-dDnv] [-f file] [-p pidfile]"

static int usage(const char *name, char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int usage(const char *name, char *err, size_t errlen, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char use[128];
	snprintf(use, sizeof(use), USAGE_FMT, name ? name : "vocald");
	snprintf(err, errlen, "%s: %s\n%s", name ? name : "vocald", msg, use);
	return -1;
}

int daemon_parse_args(struct daemon_opts *o, const char *name, int argc, char *const argv[],
		      char *err, size_t errlen)
{
	int i;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || a[1] == '\0')
			break;
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		for (size_t j = 1; a[j]; j++) {
			char c = a[j];
			switch (c) {
			case 'n': o->check = true; break;
			case 'v': o->print = true; break;
			case 'd': o->debug = true; break;
			case 'D': o->detach = true; break;
			case 'f':
			case 'p': {
				const char *val = a[j + 1] ? a + j + 1 : i + 1 < argc ? argv[++i] : NULL;
				if (!val)
					return usage(name, err, errlen, "option -%c needs an argument", c);
				if (c == 'f')
					o->conf_path = val;
				else
					o->pid_path = val;
				goto next_arg;
			}
			default:
				if (c > 0x20 && c < 0x7f)
					return usage(name, err, errlen, "unknown option -%c", c);
				return usage(name, err, errlen, "unknown option byte 0x%02x",
					     (unsigned char)c);
			}
		}
next_arg:;
	}
	if (i < argc)
		return usage(name, err, errlen, "unexpected argument '%.64s'", argv[i]);
	if (o->debug && o->detach)
		return usage(name, err, errlen, "-d (foreground) and -D (detach) exclude each other");
	return 0;
}

/* ---- pid file ----------------------------------------------------------- */

static void pidfile_atexit(void)
{
	daemon_pidfile_remove();
}

static int pidfile_write(void)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(pidfile.fd, 0) < 0 || pwrite(pidfile.fd, buf, (size_t)n, 0) != n)
		return -1;
	pidfile.owner = getpid();
	return 0;
}

int daemon_pidfile(const char *path, char *err, size_t errlen)
{
	char abs[PATH_MAX];

	if (pidfile.fd >= 0) {
		snprintf(err, errlen, "%s: this process has a pid file already (%s)", path,
			 pidfile.path);
		return -1;
	}
	/* absolute, so that removal still works after chdir("/") */
	if (path[0] == '/') {
		if (snprintf(abs, sizeof(abs), "%s", path) >= (int)sizeof(abs))
			goto toolong;
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd))) {
			snprintf(err, errlen, "%s: getcwd: %s", path, strerror(errno));
			return -1;
		}
		if (snprintf(abs, sizeof(abs), "%s/%s", cwd, path) >= (int)sizeof(abs))
			goto toolong;
	}

	/* A daemon that exits unlinks the file and then drops the lock; we may
	 * have opened the old file just before the unlink and locked it just
	 * after. So after locking, check that the path still names the file
	 * we locked, and start over when it does not. */
	for (int attempt = 0; attempt < 10; attempt++) {
		struct stat fst, pst;
		int fd = open(abs, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0) {
			snprintf(err, errlen, "%s: %s", abs, strerror(errno));
			return -1;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;
			char buf[32] = "";
			ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
			close(fd);
			if (e == EWOULDBLOCK) {
				long other = n > 0 ? strtol(buf, NULL, 10) : 0;
				snprintf(err, errlen, "%s: another instance is running (pid %ld)", abs,
					 other);
			} else {
				snprintf(err, errlen, "%s: lock: %s", abs, strerror(e));
			}
			return -1;
		}
		if (fstat(fd, &fst) < 0 || stat(abs, &pst) < 0 || fst.st_ino != pst.st_ino ||
		    fst.st_dev != pst.st_dev) {
			close(fd);
			continue;
		}
		pidfile.fd = fd;
		memcpy(pidfile.path, abs, strlen(abs) + 1);
		if (pidfile_write() < 0) {
			snprintf(err, errlen, "%s: write: %s", abs, strerror(errno));
			daemon_pidfile_remove();
			return -1;
		}
		if (!pidfile.atexit_set && atexit(pidfile_atexit) == 0)
			pidfile.atexit_set = true;
		return 0;
	}
	snprintf(err, errlen, "%s: keeps being replaced while we lock it", abs);
	return -1;
toolong:
	snprintf(err, errlen, "%s: path too long", path);
	return -1;
}

void daemon_pidfile_remove(void)
{
	if (pidfile.fd < 0)
		return;
	if (pidfile.owner == getpid()) {
		/* unlink while still holding the lock: see daemon_pidfile */
		unlink(pidfile.path);
		close(pidfile.fd);
	}
	/* A forked child just forgets it: closing its copy of the descriptor
	 * would not drop the lock anyway, and the file is the parent's. */
	pidfile.fd = -1;
}

/* ---- detaching ---------------------------------------------------------- */

int daemon_detach(char *err, size_t errlen)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL); /* or buffered output would be written twice */
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid > 0) {
		/* The starting process: wait for the daemon's "ready" byte, or
		 * for EOF when it died first. _exit: the pid file and other
		 * atexit business belong to the daemon now. */
		char c;
		ssize_t n;
		close(p[1]);
		do
			n = read(p[0], &c, 1);
		while (n < 0 && errno == EINTR);
		waitpid(pid, NULL, 0);
		_exit(n == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		_exit(1);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(null, STDOUT_FILENO) < 0)
		_exit(1);
	if (null > STDERR_FILENO)
		close(null);
	ready_fd = p[1];
	if (pidfile.fd >= 0 && pidfile_write() < 0) {
		snprintf(err, errlen, "%s: write: %s", pidfile.path, strerror(errno));
		_exit(1);
	}
	return 0;
}

void daemon_ready(void)
{
	if (ready_fd < 0)
		return;
	if (syslog_ident)
		log_init(syslog_ident, LOG_TO_SYSLOG, log_getlevel());
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDERR_FILENO);
		if (null != STDERR_FILENO)
			close(null);
	}
	ssize_t n;
	do
		n = write(ready_fd, "", 1);
	while (n < 0 && errno == EINTR);
	close(ready_fd);
	ready_fd = -1;
}

/* ---- start, signals, reload --------------------------------------------- */

void daemon_free(struct daemon *d)
{
	if (d->conf) {
		config_free(d->table, d->conf);
		free(d->conf);
		d->conf = NULL;
	}
	free(d->conf_path);
	d->conf_path = NULL;
}

int daemon_start(struct daemon *d, int argc, char *argv[])
{
	char err[1024];
	struct daemon_opts *o = &d->opts;

	*o = (struct daemon_opts){.conf_path = d->default_conf};
	if (daemon_parse_args(o, d->name, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	log_init(d->name, LOG_TO_STDERR, o->debug ? LOG_DEBUG : LOG_INFO);
	if (!o->conf_path) {
		fprintf(stderr, "%s: no configuration file (use -f)\n", d->name);
		return -1;
	}
	d->conf = calloc(1, d->conf_size ? d->conf_size : 1);
	if (!d->conf) {
		fprintf(stderr, "%s: out of memory\n", d->name);
		return -1;
	}
	if (o->check && !o->print && !d->check) {
		int rc = config_check(d->table, d->conf, o->conf_path, stderr);
		daemon_free(d);
		return rc == 0 ? 1 : -1;
	}
	if (o->check && !o->print) {
		int rc = -1;
		if (config_load(d->table, d->conf, o->conf_path, err, sizeof(err)) < 0)
			fprintf(stderr, "%s\n", err);
		else if (d->check(d->conf, err, sizeof(err)) < 0)
			fprintf(stderr, "%s: %s\n", o->conf_path, err);
		else
			rc = 0;
		if (rc == 0)
			fprintf(stderr, "configuration OK\n");
		daemon_free(d);
		return rc == 0 ? 1 : -1;
	}
	if (config_load(d->table, d->conf, o->conf_path, err, sizeof(err)) < 0) {
		if (o->print)
			fprintf(stderr, "%s\n", err);
		else
			log_warnx("%s", err);
		daemon_free(d);
		return -1;
	}
	if (o->print) {
		int rc = config_print(d->table, d->conf, stdout);
		if (o->check)
			fprintf(stderr, "configuration OK\n");
		daemon_free(d);
		return rc == 0 ? 1 : -1;
	}
	d->conf_path = realpath(o->conf_path, NULL);
	if (!d->conf_path) {
		log_warn("%s", o->conf_path);
		daemon_free(d);
		return -1;
	}
	if (o->pid_path && daemon_pidfile(o->pid_path, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		daemon_free(d);
		return -1;
	}
	if (o->detach) {
		/* stderr logging until daemon_ready, so that set-up errors reach
		 * the terminal that started us; syslog after */
		syslog_ident = d->name;
		if (daemon_detach(err, sizeof(err)) < 0) {
			log_warnx("%s", err);
			daemon_free(d);
			return -1;
		}
	}
	log_info("starting with %s", d->conf_path);
	return 0;
}

int daemon_reload(struct daemon *d)
{
	char err[1024];
	void *fresh = calloc(1, d->conf_size ? d->conf_size : 1);

	if (!fresh) {
		log_warnx("reload: out of memory; keeping the running configuration");
		return -1;
	}
	if (!d->conf_path) {
		log_warnx("reload: no configuration file; keeping the running configuration");
		free(fresh);
		return -1;
	}
	if (config_load(d->table, fresh, d->conf_path, err, sizeof(err)) < 0) {
		log_warnx("reload failed, keeping the running configuration: %s", err);
		free(fresh);
		return -1;
	}
	if (d->hooks.reload && d->hooks.reload(fresh, d->conf, d->hooks.arg) < 0) {
		log_warnx("reload of %s refused, keeping the running configuration", d->conf_path);
		config_free(d->table, fresh);
		free(fresh);
		return -1;
	}
	void *old = d->conf;
	d->conf = fresh;
	if (old) {
		config_free(d->table, old);
		free(old);
	}
	log_info("reloaded %s", d->conf_path);
	return 0;
}

static const char *signame(int signo)
{
	switch (signo) {
	case SIGHUP: return "SIGHUP";
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	}
	return "signal";
}

static void on_reload_signal(struct ev_loop *loop, int signo, void *arg)
{
	(void)loop;
	log_info("%s: reloading the configuration", signame(signo));
	daemon_reload(arg);
}

static void on_stop_signal(struct ev_loop *loop, int signo, void *arg)
{
	struct daemon *d = arg;
	if (d->draining) {
		log_warnx("%s again: exiting without finishing the work in flight", signame(signo));
		exit(1);
	}
	d->draining = true;
	log_info("%s: draining", signame(signo));
	if (d->hooks.drain)
		d->hooks.drain(d->hooks.arg);
	else
		ev_break(loop);
}

int daemon_signals(struct daemon *d, struct ev_loop *loop, const struct daemon_hooks *hooks)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return -1;
	d->loop = loop;
	if (hooks)
		d->hooks = *hooks;
	else
		memset(&d->hooks, 0, sizeof(d->hooks));
	d->draining = false;
	if (ev_signal_add(loop, SIGHUP, on_reload_signal, d) < 0 ||
	    ev_signal_add(loop, SIGTERM, on_stop_signal, d) < 0 ||
	    ev_signal_add(loop, SIGINT, on_stop_signal, d) < 0)
		return -1;
	return 0;
}
