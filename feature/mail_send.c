/*
 * The mailer: CPL mail handed to a sendmail-compatible command (see
 * mail.h). The command runs without a shell (argv split on blanks), in
 * its own process group, with an empty signal mask and default signal
 * actions, a minimal environment and only stdin (the message), stdout
 * and stderr open. The message goes through a non-blocking pipe, the
 * rest of it when the pipe can take it; a timer of the loop reaps the
 * children (waitpid WNOHANG: no SIGCHLD handling to share with anyone)
 * and kills those past their time. Nothing here blocks the loop.
 */
#include "feature/mail.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"

#define MAX_CHILDREN 64
#define MAX_ARGS     16
#define REAP_MS	     50

struct child {
	pid_t pid; /* 0: a free slot */
	int fd;	   /* the pipe's write end; -1 once fed */
	bool killed;
	char *msg;
	size_t len, off;
	uint64_t deadline;
	char call_id[80];
};

struct sub_count {
	int64_t sub; /* 0: free */
	unsigned n;
};

struct mailer {
	struct ev_loop *loop;
	struct mailer_stats *stats;
	char *cmd; /* the command split in place */
	char *argv[MAX_ARGS + 1];
	unsigned max_children, max_per_minute, max_per_sub;
	uint64_t timeout_ms;
	struct child child[MAX_CHILDREN];
	unsigned running;
	struct ev_timer reap;
	/* this minute's counts */
	uint64_t minute;
	unsigned in_minute;
	bool drop_logged;
	struct sub_count *subs;
	size_t subs_cap; /* a power of two, twice max_per_minute at least */
};

static void on_reap(struct ev_loop *loop, struct ev_timer *t, void *arg);

struct mailer *mailer_new(struct ev_loop *loop, struct mailer_stats *stats)
{
	struct mailer *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->loop = loop;
	m->stats = stats;
	for (unsigned i = 0; i < MAX_CHILDREN; i++)
		m->child[i].fd = -1;
	ev_timer_init(&m->reap, on_reap, m);
	return m;
}

int mailer_configure(struct mailer *m, const struct mailer_conf *c, char *err, size_t errlen)
{
	char *cmd = strdup(c->command ? c->command : "");
	char *argv[MAX_ARGS + 1] = {0};
	unsigned n = 0;
	if (!cmd) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (char *save = NULL, *t = strtok_r(cmd, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		if (n >= MAX_ARGS) {
			snprintf(err, errlen, "more than %d words", MAX_ARGS);
			free(cmd);
			return -1;
		}
		argv[n++] = t;
	}
	if (n && (argv[0][0] != '/' || access(argv[0], X_OK) < 0)) {
		snprintf(err, errlen, "%s is not an executable given by its absolute path",
			 argv[0]);
		free(cmd);
		return -1;
	}
	size_t cap = 16;
	unsigned per_minute = c->max_per_minute ? c->max_per_minute : 1;
	while (cap < 2 * (size_t)per_minute)
		cap *= 2;
	struct sub_count *subs = calloc(cap, sizeof(*subs));
	if (!subs) {
		snprintf(err, errlen, "out of memory");
		free(cmd);
		return -1;
	}
	free(m->cmd);
	free(m->subs);
	m->cmd = cmd;
	memcpy(m->argv, argv, sizeof(argv));
	m->max_children = c->max_children > MAX_CHILDREN ? MAX_CHILDREN : c->max_children;
	m->max_per_minute = per_minute;
	m->max_per_sub = c->max_per_subscriber;
	m->timeout_ms = c->timeout_ms ? c->timeout_ms : 30000;
	m->subs = subs;
	m->subs_cap = cap;
	m->in_minute = 0; /* a new table: counting starts again */
	return 0;
}

unsigned mailer_running(const struct mailer *m)
{
	return m->running;
}

static sip_str child_cid(const struct child *ch)
{
	return sip_str_make(ch->call_id, strlen(ch->call_id));
}

static void close_pipe(struct mailer *m, struct child *ch)
{
	if (ch->fd >= 0) {
		ev_io_remove(m->loop, ch->fd);
		close(ch->fd);
		ch->fd = -1;
	}
	free(ch->msg);
	ch->msg = NULL;
}

/* Writes what the pipe takes. Returns true when the child is fed (or the
 * pipe is broken: the child went away; its exit status will say why). */
static bool feed(struct child *ch)
{
	while (ch->off < ch->len) {
		ssize_t w = write(ch->fd, ch->msg + ch->off, ch->len - ch->off);
		if (w > 0) {
			ch->off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return false;
		log_call_warn(child_cid(ch), "cpl mail: writing to the mail command");
		return true;
	}
	return true;
}

static void on_writable(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct child *ch = arg;
	(void)fd;
	(void)events;
	if (!feed(ch))
		return;
	/* the mailer is the owner of the slot; close_pipe needs it only for
	 * the loop, which is the one calling us */
	ev_io_remove(loop, ch->fd);
	close(ch->fd);
	ch->fd = -1;
	free(ch->msg);
	ch->msg = NULL;
}

/* The current minute's counts, reset when it changed. */
static void roll_minute(struct mailer *m)
{
	uint64_t minute = ev_now(m->loop) / 60000;
	if (minute == m->minute)
		return;
	m->minute = minute;
	if (m->in_minute)
		memset(m->subs, 0, m->subs_cap * sizeof(*m->subs));
	m->in_minute = 0;
	m->drop_logged = false;
}

/* sub_id's count this minute (inserted at 0). NULL: the table is full,
 * which max_per_minute rules out (it holds twice as many). */
static struct sub_count *sub_slot(struct mailer *m, int64_t sub)
{
	uint64_t h = (uint64_t)sub * 0x9e3779b97f4a7c15ull;
	size_t mask = m->subs_cap - 1;
	for (size_t i = 0, k = (size_t)(h >> 32) & mask; i < m->subs_cap; i++, k = (k + 1) & mask) {
		if (m->subs[k].sub == sub)
			return &m->subs[k];
		if (m->subs[k].sub == 0) {
			m->subs[k].sub = sub;
			m->subs[k].n = 0;
			return &m->subs[k];
		}
	}
	return NULL;
}

static enum mailer_result drop(struct mailer *m, sip_str call_id, const char *why)
{
	m->stats->dropped++;
	/* a script mailing on every call must not flood the log either */
	log_call(m->drop_logged ? LOG_DEBUG : LOG_WARNING, call_id, "cpl mail dropped: %s%s", why,
		 m->drop_logged ? "" : " (further drops this minute are logged at debug level)");
	m->drop_logged = true;
	return MAILER_DROPPED;
}

static int spawn(struct mailer *m, pid_t *pid, int fd)
{
	static char *const envp[] = {
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, all;
	sigemptyset(&none);
	sigfillset(&all);
	int rc = posix_spawn_file_actions_init(&fa);
	if (rc)
		return rc;
	if ((rc = posix_spawnattr_init(&at))) {
		posix_spawn_file_actions_destroy(&fa);
		return rc;
	}
	/* stdin is the message; everything but stdio closed (a daemon's
	 * sockets and database connection are no business of the command) */
	if (!(rc = posix_spawn_file_actions_adddup2(&fa, fd, 0)) &&
	    !(rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) &&
	    !(rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
						     POSIX_SPAWN_SETPGROUP)) &&
	    !(rc = posix_spawnattr_setsigmask(&at, &none)) &&
	    !(rc = posix_spawnattr_setsigdefault(&at, &all)) &&
	    !(rc = posix_spawnattr_setpgroup(&at, 0)))
		rc = posix_spawn(pid, m->argv[0], &fa, &at, m->argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

enum mailer_result mailer_send(struct mailer *m, int64_t sub_id, sip_str call_id, const char *msg,
			       size_t len)
{
	if (!m->argv[0]) {
		m->stats->off++;
		return MAILER_OFF;
	}
	roll_minute(m);
	if (m->running >= m->max_children)
		return drop(m, call_id, "mail.max_children commands are running");
	if (m->in_minute >= m->max_per_minute)
		return drop(m, call_id, "mail.max_per_minute reached");
	struct sub_count *sc = sub_slot(m, sub_id);
	if (!sc || sc->n >= m->max_per_sub)
		return drop(m, call_id, "mail.max_per_subscriber reached for the subscriber");
	struct child *ch = NULL;
	for (unsigned i = 0; i < MAX_CHILDREN && !ch; i++)
		if (!m->child[i].pid)
			ch = &m->child[i];
	if (!ch)
		return drop(m, call_id, "no free slot");
	int p[2];
	char *copy = malloc(len ? len : 1);
	if (!copy || pipe2(p, O_CLOEXEC) < 0) {
		log_call_warn(call_id, "cpl mail not sent");
		free(copy);
		m->stats->failed++;
		return MAILER_FAILED;
	}
	memcpy(copy, msg, len);
	pid_t pid;
	int rc = spawn(m, &pid, p[0]);
	close(p[0]);
	if (rc) {
		errno = rc;
		log_call_warn(call_id, "cpl mail not sent: %s", m->argv[0]);
		close(p[1]);
		free(copy);
		m->stats->failed++;
		return MAILER_FAILED;
	}
	*ch = (struct child){.pid = pid,
			     .fd = p[1],
			     .msg = copy,
			     .len = len,
			     .deadline = ev_now(m->loop) + m->timeout_ms};
	snprintf(ch->call_id, sizeof(ch->call_id), "%.*s",
		 (int)(call_id.len < 79 ? call_id.len : 79), call_id.s ? call_id.s : "");
	m->running++;
	m->in_minute++;
	sc->n++;
	m->stats->sent++;
	fcntl(ch->fd, F_SETFL, fcntl(ch->fd, F_GETFL) | O_NONBLOCK);
	if (feed(ch)) {
		close_pipe(m, ch);
	} else if (ev_io_add(m->loop, ch->fd, EV_WRITE, on_writable, ch) < 0) {
		log_call_warn(call_id, "cpl mail: watching the pipe");
		close_pipe(m, ch); /* the command sees a cut message */
	}
	if (!ev_timer_active(&m->reap))
		ev_timer_start(m->loop, &m->reap, REAP_MS);
	return MAILER_STARTED;
}

/* Reaps ch if it ended; true when it did (the slot is free). */
static bool reap(struct mailer *m, struct child *ch)
{
	int st;
	pid_t r = waitpid(ch->pid, &st, WNOHANG);
	if (r == 0)
		return false;
	if (r < 0) {
		log_call_warn(child_cid(ch), "cpl mail: waitpid %d", (int)ch->pid);
		m->stats->failed++;
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		log_call(LOG_DEBUG, child_cid(ch), "cpl mail: the mail command took the message");
	} else {
		m->stats->failed++;
		if (WIFEXITED(st))
			log_call(LOG_WARNING, child_cid(ch), "cpl mail: %s exited with status %d",
				 m->argv[0] ? m->argv[0] : "the mail command", WEXITSTATUS(st));
		else
			log_call(LOG_WARNING, child_cid(ch),
				 "cpl mail: the mail command %s by signal %d",
				 ch->killed ? "killed (mail.timeout)" : "ended", WTERMSIG(st));
	}
	close_pipe(m, ch);
	ch->pid = 0;
	ch->killed = false;
	m->running--;
	return true;
}

static void on_reap(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct mailer *m = arg;
	uint64_t now = ev_now(loop);
	for (unsigned i = 0; i < MAX_CHILDREN; i++) {
		struct child *ch = &m->child[i];
		if (!ch->pid || reap(m, ch))
			continue;
		if (!ch->killed && now >= ch->deadline) {
			ch->killed = true;
			kill(-ch->pid, SIGKILL);
			kill(ch->pid, SIGKILL);
		}
	}
	if (m->running)
		ev_timer_start(loop, t, REAP_MS);
}

void mailer_free(struct mailer *m)
{
	if (!m)
		return;
	ev_timer_stop(m->loop, &m->reap);
	for (unsigned i = 0; i < MAX_CHILDREN; i++)
		if (m->child[i].pid && m->child[i].fd >= 0)
			close_pipe(m, &m->child[i]); /* what was not written is lost */
	for (int tries = 0; m->running && tries < 200; tries++) {
		for (unsigned i = 0; i < MAX_CHILDREN; i++)
			if (m->child[i].pid)
				reap(m, &m->child[i]);
		if (m->running)
			nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	for (unsigned i = 0; i < MAX_CHILDREN; i++) {
		struct child *ch = &m->child[i];
		if (!ch->pid)
			continue;
		ch->killed = true;
		kill(-ch->pid, SIGKILL);
		kill(ch->pid, SIGKILL);
		waitpid(ch->pid, NULL, 0);
		m->stats->failed++;
		ch->pid = 0;
		m->running--;
	}
	free(m->cmd);
	free(m->subs);
	free(m);
}
