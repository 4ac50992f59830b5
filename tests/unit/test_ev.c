/* The event loop: timers on a fake clock, file descriptors, signals. */
#include "unit/testutil.h"

#include <signal.h>
#include <unistd.h>

#include "ev.h"

static uint64_t fake_now;
static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

struct record {
	int order[64];
	int n;
};

struct tagged {
	struct ev_timer t;
	int id;
	struct record *rec;
};

static void on_tagged(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	(void)loop;
	(void)t;
	struct tagged *x = arg;
	x->rec->order[x->rec->n++] = x->id;
}

static struct ev_loop *fake_loop(void)
{
	struct ev_loop *loop = ev_loop_new();
	assert_non_null(loop);
	fake_now = 1000;
	ev_set_clock(loop, fake_clock, NULL);
	return loop;
}

static void test_timers_fire_in_order(void **state)
{
	(void)state;
	struct ev_loop *loop = fake_loop();
	struct record rec = {0};
	struct tagged t[5];
	const uint64_t after[5] = {500, 100, 4000, 100, 32000};
	for (int i = 0; i < 5; i++) {
		t[i] = (struct tagged){.id = i, .rec = &rec};
		ev_timer_init(&t[i].t, on_tagged, &t[i]);
		ev_timer_start(loop, &t[i].t, after[i]);
	}
	assert_int_equal(ev_timer_count(loop), 5);
	assert_int_equal(ev_run_timers(loop), 0); /* nothing due yet */
	fake_now += 99;
	assert_int_equal(ev_run_timers(loop), 0);
	fake_now += 1;
	assert_int_equal(ev_run_timers(loop), 2);
	fake_now += 3900;
	assert_int_equal(ev_run_timers(loop), 2);
	assert_true(ev_timer_active(&t[4].t));
	fake_now += 100000;
	assert_int_equal(ev_run_timers(loop), 1);
	assert_int_equal(rec.n, 5);
	assert_int_equal(rec.order[2], 0);
	assert_int_equal(rec.order[3], 2);
	assert_int_equal(rec.order[4], 4);
	assert_false(ev_timer_active(&t[4].t));
	ev_loop_free(loop);
}

static void test_timer_stop_and_restart(void **state)
{
	(void)state;
	struct ev_loop *loop = fake_loop();
	struct record rec = {0};
	struct tagged a = {.id = 1, .rec = &rec}, b = {.id = 2, .rec = &rec};
	ev_timer_init(&a.t, on_tagged, &a);
	ev_timer_init(&b.t, on_tagged, &b);
	ev_timer_start(loop, &a.t, 10);
	ev_timer_start(loop, &b.t, 20);
	ev_timer_stop(loop, &a.t);
	ev_timer_stop(loop, &a.t); /* stopping twice is harmless */
	ev_timer_start(loop, &b.t, 50); /* restart moves it */
	fake_now += 30;
	assert_int_equal(ev_run_timers(loop), 0);
	fake_now += 20;
	assert_int_equal(ev_run_timers(loop), 1);
	assert_int_equal(rec.order[0], 2);
	ev_loop_free(loop);
}

/* Many timers started and stopped at random keep the heap in order. */
static void test_timer_heap_random(void **state)
{
	(void)state;
	struct ev_loop *loop = fake_loop();
	enum { N = 2000 };
	static struct tagged t[N];
	struct record rec = {0};
	srand(7);
	for (int i = 0; i < N; i++) {
		t[i] = (struct tagged){.id = i, .rec = &rec};
		ev_timer_init(&t[i].t, NULL, NULL);
		ev_timer_start(loop, &t[i].t, (uint64_t)(rand() % 100000));
	}
	for (int i = 0; i < N; i += 3)
		ev_timer_stop(loop, &t[i].t);
	uint64_t last = 0;
	size_t expect = ev_timer_count(loop);
	/* pop by advancing the clock one timer at a time */
	for (size_t k = 0; k < expect; k++) {
		uint64_t min = UINT64_MAX;
		for (int i = 0; i < N; i++)
			if (ev_timer_active(&t[i].t) && t[i].t.when < min)
				min = t[i].t.when;
		assert_true(min >= last);
		last = min;
		for (int i = 0; i < N; i++)
			if (ev_timer_active(&t[i].t) && t[i].t.when == min) {
				ev_timer_stop(loop, &t[i].t);
				break;
			}
	}
	assert_int_equal(ev_timer_count(loop), 0);
	ev_loop_free(loop);
}

struct chain {
	struct ev_timer t;
	int fired;
};

static void on_chain(struct ev_loop *loop, struct ev_timer *t, void *arg)
{
	struct chain *c = arg;
	if (++c->fired < 3)
		ev_timer_start(loop, t, 500); /* retransmission-style restart */
}

static void test_timer_restart_from_callback(void **state)
{
	(void)state;
	struct ev_loop *loop = fake_loop();
	struct chain c = {0};
	ev_timer_init(&c.t, on_chain, &c);
	ev_timer_start(loop, &c.t, 500);
	for (int i = 0; i < 5; i++) {
		fake_now += 500;
		ev_run_timers(loop);
	}
	assert_int_equal(c.fired, 3);
	assert_false(ev_timer_active(&c.t));
	ev_loop_free(loop);
}

static int io_fired;
static void on_readable(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	(void)arg;
	char b[16];
	assert_true(events & EV_READ);
	assert_int_equal(read(fd, b, sizeof(b)), 3);
	io_fired++;
	ev_io_remove(loop, fd);
	ev_break(loop);
}

static void test_io_pipe(void **state)
{
	(void)state;
	struct ev_loop *loop = ev_loop_new();
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(ev_io_add(loop, p[0], EV_READ, on_readable, NULL), 0);
	assert_int_equal(ev_io_add(loop, p[0], EV_READ, on_readable, NULL), -1); /* one per fd */
	assert_int_equal(ev_run_once(loop, 0), 0);
	assert_int_equal(write(p[1], "abc", 3), 3);
	ev_run(loop);
	assert_int_equal(io_fired, 1);
	close(p[0]);
	close(p[1]);
	ev_loop_free(loop);
}

static int got_signal;
static void on_usr1(struct ev_loop *loop, int signo, void *arg)
{
	(void)arg;
	got_signal = signo;
	ev_break(loop);
}

static void test_signal(void **state)
{
	(void)state;
	struct ev_loop *loop = ev_loop_new();
	assert_int_equal(ev_signal_add(loop, SIGUSR1, on_usr1, NULL), 0);
	kill(getpid(), SIGUSR1);
	ev_run(loop);
	assert_int_equal(got_signal, SIGUSR1);
	ev_loop_free(loop);
}

static void test_run_once_waits_for_timer(void **state)
{
	(void)state;
	struct ev_loop *loop = ev_loop_new();
	struct record rec = {0};
	struct tagged a = {.id = 1, .rec = &rec};
	ev_timer_init(&a.t, on_tagged, &a);
	ev_timer_start(loop, &a.t, 20);
	uint64_t start = ev_now(loop);
	while (rec.n == 0)
		assert_true(ev_run_once(loop, -1) >= 0);
	assert_true(ev_now(loop) >= start + 20);
	ev_loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_fire_in_order),
		cmocka_unit_test(test_timer_stop_and_restart),
		cmocka_unit_test(test_timer_heap_random),
		cmocka_unit_test(test_timer_restart_from_callback),
		cmocka_unit_test(test_io_pipe),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_run_once_waits_for_timer),
	};
	return cmocka_run_group_tests_name("ev", tests, NULL, NULL);
}
