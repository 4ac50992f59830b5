/*
 * The event loop every daemon runs: file descriptors (epoll), timers and
 * signals (signalfd) in one thread.
 *
 * Why our own small loop and not libevent: it is a few hundred lines, it has
 * the one thing libevent lacks that the transaction tests need (an
 * injectable clock, so RFC 3261 timers are tested without sleeping), and
 * everything else we plug in already speaks "file descriptor + timeout":
 * libpq (PQsocket), libmicrohttpd (MHD_USE_EPOLL, one fd), net-snmp
 * (snmp_select_info), c-ares (ARES_OPT_SOCK_STATE_CB).
 *
 * Times are milliseconds of a monotonic clock. Callbacks run on the loop's
 * thread; a callback may add, change or remove any watcher, itself too.
 */
#ifndef VOCAL_EV_H
#define VOCAL_EV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct ev_timer;

enum { EV_READ = 1, EV_WRITE = 2 };

typedef void (*ev_io_cb)(struct ev_loop *loop, int fd, unsigned events, void *arg);
typedef void (*ev_timer_cb)(struct ev_loop *loop, struct ev_timer *t, void *arg);
typedef void (*ev_signal_cb)(struct ev_loop *loop, int signo, void *arg);
/* Returns the current time in milliseconds. */
typedef uint64_t (*ev_clock_fn)(void *arg);

/* A timer lives in the caller's memory (inside a transaction, say); the loop
 * only links it. Initialise once with ev_timer_init. */
struct ev_timer {
	uint64_t when;      /* expiry, in loop time */
	size_t slot;        /* position in the loop's heap; 0 = not running */
	ev_timer_cb cb;
	void *arg;
};

/* Returns a new loop, or NULL. */
struct ev_loop *ev_loop_new(void);
/* Frees the loop; watchers still registered are forgotten, not called. */
void ev_loop_free(struct ev_loop *loop);

/* Replaces the monotonic clock, for tests (NULL restores it). */
void ev_set_clock(struct ev_loop *loop, ev_clock_fn fn, void *arg);
/* The loop's idea of now, updated before each batch of callbacks. */
uint64_t ev_now(struct ev_loop *loop);
/* Re-reads the clock into ev_now. */
void ev_update_now(struct ev_loop *loop);

/* Watches fd for events (EV_READ | EV_WRITE). One watcher per fd. */
int ev_io_add(struct ev_loop *loop, int fd, unsigned events, ev_io_cb cb, void *arg);
int ev_io_modify(struct ev_loop *loop, int fd, unsigned events);
/* Stops watching fd (call before closing it). */
void ev_io_remove(struct ev_loop *loop, int fd);

void ev_timer_init(struct ev_timer *t, ev_timer_cb cb, void *arg);
/* (Re)starts t to fire after ms milliseconds from ev_now. */
void ev_timer_start(struct ev_loop *loop, struct ev_timer *t, uint64_t ms);
void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t);
static inline bool ev_timer_active(const struct ev_timer *t) { return t->slot != 0; }
/* Number of running timers. */
size_t ev_timer_count(const struct ev_loop *loop);

/* Delivers signo to cb on the loop (signalfd); the signal is blocked for the
 * process's normal delivery. */
int ev_signal_add(struct ev_loop *loop, int signo, ev_signal_cb cb, void *arg);

/* Runs the timers that are due at ev_now (after re-reading the clock);
 * returns how many fired. Tests call this after moving their clock. */
int ev_run_timers(struct ev_loop *loop);

/* Waits up to max_wait_ms (-1: until the next timer or forever) for I/O,
 * then runs ready I/O callbacks and due timers. Returns the number of
 * callbacks run, or -1 on an epoll error. */
int ev_run_once(struct ev_loop *loop, int max_wait_ms);

/* Runs until ev_break is called. */
void ev_run(struct ev_loop *loop);
void ev_break(struct ev_loop *loop);

#endif
