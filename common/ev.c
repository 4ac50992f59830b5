#include "ev.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

struct io_watcher {
	ev_io_cb cb;
	void *arg;
	unsigned events;
	bool active;
};

struct sig_watcher {
	ev_signal_cb cb;
	void *arg;
};

struct ev_loop {
	int epfd;
	uint64_t now;
	ev_clock_fn clock;
	void *clock_arg;
	bool stop;

	struct io_watcher *io;  /* indexed by fd */
	int io_cap;

	/* Binary min-heap of running timers, 1-based so slot 0 means "not
	 * running". Timers live in their owners' memory; the heap holds
	 * pointers and each timer knows its slot, so stop is O(log n). */
	struct ev_timer **heap;
	size_t heap_len, heap_cap;

	int sigfd;
	sigset_t sigmask;
	struct sig_watcher sigs[65];
};

static uint64_t monotonic_ms(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ev_loop *ev_loop_new(void)
{
	struct ev_loop *loop = calloc(1, sizeof(*loop));
	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		free(loop);
		return NULL;
	}
	loop->sigfd = -1;
	sigemptyset(&loop->sigmask);
	loop->clock = monotonic_ms;
	loop->now = monotonic_ms(NULL);
	return loop;
}

void ev_loop_free(struct ev_loop *loop)
{
	if (!loop)
		return;
	for (size_t i = 1; i <= loop->heap_len; i++)
		loop->heap[i]->slot = 0;
	if (loop->sigfd >= 0) {
		close(loop->sigfd);
		sigprocmask(SIG_UNBLOCK, &loop->sigmask, NULL);
	}
	close(loop->epfd);
	free(loop->io);
	free(loop->heap);
	free(loop);
}

void ev_set_clock(struct ev_loop *loop, ev_clock_fn fn, void *arg)
{
	loop->clock = fn ? fn : monotonic_ms;
	loop->clock_arg = fn ? arg : NULL;
	ev_update_now(loop);
}

uint64_t ev_now(struct ev_loop *loop) { return loop->now; }

void ev_update_now(struct ev_loop *loop) { loop->now = loop->clock(loop->clock_arg); }

/* ---- file descriptors ---------------------------------------------------- */

static uint32_t epoll_events(unsigned events)
{
	return (events & EV_READ ? EPOLLIN | EPOLLRDHUP : 0) | (events & EV_WRITE ? EPOLLOUT : 0);
}

int ev_io_add(struct ev_loop *loop, int fd, unsigned events, ev_io_cb cb, void *arg)
{
	if (fd < 0)
		return -1;
	if (fd >= loop->io_cap) {
		int cap = loop->io_cap ? loop->io_cap : 64;
		while (cap <= fd)
			cap *= 2;
		struct io_watcher *n = realloc(loop->io, (size_t)cap * sizeof(*n));
		if (!n)
			return -1;
		memset(n + loop->io_cap, 0, (size_t)(cap - loop->io_cap) * sizeof(*n));
		loop->io = n;
		loop->io_cap = cap;
	}
	struct io_watcher *w = &loop->io[fd];
	if (w->active) {
		errno = EEXIST;
		return -1;
	}
	struct epoll_event ee = {.events = epoll_events(events), .data.fd = fd};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee) < 0)
		return -1;
	*w = (struct io_watcher){cb, arg, events, true};
	return 0;
}

int ev_io_modify(struct ev_loop *loop, int fd, unsigned events)
{
	if (fd < 0 || fd >= loop->io_cap || !loop->io[fd].active) {
		errno = ENOENT;
		return -1;
	}
	if (loop->io[fd].events == events)
		return 0;
	struct epoll_event ee = {.events = epoll_events(events), .data.fd = fd};
	if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ee) < 0)
		return -1;
	loop->io[fd].events = events;
	return 0;
}

void ev_io_remove(struct ev_loop *loop, int fd)
{
	if (fd < 0 || fd >= loop->io_cap || !loop->io[fd].active)
		return;
	epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
	loop->io[fd].active = false;
}

/* ---- timers -------------------------------------------------------------- */

static void heap_set(struct ev_loop *loop, size_t i, struct ev_timer *t)
{
	loop->heap[i] = t;
	t->slot = i;
}

static void heap_up(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];
	while (i > 1 && loop->heap[i / 2]->when > t->when) {
		heap_set(loop, i, loop->heap[i / 2]);
		i /= 2;
	}
	heap_set(loop, i, t);
}

static void heap_down(struct ev_loop *loop, size_t i)
{
	struct ev_timer *t = loop->heap[i];
	for (;;) {
		size_t c = 2 * i;
		if (c > loop->heap_len)
			break;
		if (c + 1 <= loop->heap_len && loop->heap[c + 1]->when < loop->heap[c]->when)
			c++;
		if (loop->heap[c]->when >= t->when)
			break;
		heap_set(loop, i, loop->heap[c]);
		i = c;
	}
	heap_set(loop, i, t);
}

void ev_timer_init(struct ev_timer *t, ev_timer_cb cb, void *arg)
{
	t->when = 0;
	t->slot = 0;
	t->cb = cb;
	t->arg = arg;
}

void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t)
{
	size_t i = t->slot;
	if (!i)
		return;
	struct ev_timer *last = loop->heap[loop->heap_len--];
	t->slot = 0;
	if (last != t) {
		heap_set(loop, i, last);
		heap_up(loop, i);
		heap_down(loop, last->slot);
	}
}

void ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t ms)
{
	ev_timer_stop(loop, t);
	if (loop->heap_len + 1 >= loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		struct ev_timer **n = realloc(loop->heap, cap * sizeof(*n));
		if (!n)
			abort(); /* a timer that silently never fires is worse */
		loop->heap = n;
		loop->heap_cap = cap;
	}
	t->when = loop->now + ms;
	loop->heap[++loop->heap_len] = t;
	t->slot = loop->heap_len;
	heap_up(loop, loop->heap_len);
}

size_t ev_timer_count(const struct ev_loop *loop) { return loop->heap_len; }

int ev_run_timers(struct ev_loop *loop)
{
	int fired = 0;
	ev_update_now(loop);
	/* A callback may start timers due now; they run in this pass too, but
	 * never loop forever: each run is bounded by the heap's size. */
	size_t budget = loop->heap_len + 1024;
	while (loop->heap_len && loop->heap[1]->when <= loop->now && budget--) {
		struct ev_timer *t = loop->heap[1];
		ev_timer_stop(loop, t);
		t->cb(loop, t, t->arg);
		fired++;
	}
	return fired;
}

/* ---- signals ------------------------------------------------------------- */

static void on_signalfd(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)events;
	(void)arg;
	struct signalfd_siginfo si;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo < 65 && loop->sigs[si.ssi_signo].cb)
			loop->sigs[si.ssi_signo].cb(loop, (int)si.ssi_signo, loop->sigs[si.ssi_signo].arg);
	}
}

int ev_signal_add(struct ev_loop *loop, int signo, ev_signal_cb cb, void *arg)
{
	if (signo <= 0 || signo >= 65)
		return -1;
	sigaddset(&loop->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) < 0)
		return -1;
	int fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (loop->sigfd < 0) {
		loop->sigfd = fd;
		if (ev_io_add(loop, fd, EV_READ, on_signalfd, NULL) < 0)
			return -1;
	}
	loop->sigs[signo] = (struct sig_watcher){cb, arg};
	return 0;
}

/* ---- running ------------------------------------------------------------- */

int ev_run_once(struct ev_loop *loop, int max_wait_ms)
{
	ev_update_now(loop);
	int wait = max_wait_ms;
	if (loop->heap_len) {
		uint64_t due = loop->heap[1]->when;
		uint64_t left = due > loop->now ? due - loop->now : 0;
		if (wait < 0 || left < (uint64_t)wait)
			wait = (int)(left > 86400000 ? 86400000 : left);
	}
	struct epoll_event evs[64];
	int n = epoll_wait(loop->epfd, evs, 64, wait);
	if (n < 0 && errno != EINTR)
		return -1;
	int ran = 0;
	ev_update_now(loop);
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;
		/* an earlier callback in this batch may have removed this fd */
		if (fd >= loop->io_cap || !loop->io[fd].active)
			continue;
		struct io_watcher *w = &loop->io[fd];
		unsigned got = 0;
		if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			got |= EV_READ;
		if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			got |= EV_WRITE;
		got &= w->events ? w->events : got;
		if (got) {
			w->cb(loop, fd, got, w->arg);
			ran++;
		}
	}
	return ran + ev_run_timers(loop);
}

void ev_run(struct ev_loop *loop)
{
	loop->stop = false;
	while (!loop->stop)
		if (ev_run_once(loop, -1) < 0)
			break;
}

void ev_break(struct ev_loop *loop) { loop->stop = true; }
