/* Unit tests for core/loop.c: the loop ends when asked, whether it sleeps
 * or polls; with busy polling on, an answer to what a turn wrote is read
 * without the loop going to sleep (no voluntary context switch), and
 * timers still fire while it polls. A real event loop and a real peer
 * process on a socketpair that answers each line after a short delay. */
#include "build-config.h"

#include <check.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/loop.h"
#include "core/write_batch.h"
#include "tests/unit/unit_suite.h"

#define ROUNDS 20

static struct event_base *base;
static struct write_batch *batch;
static struct bufferevent *bev;
static pid_t peer;
static int answers;
static int64_t busy_poll_us;

/* The peer: echoes every byte it reads, 1 ms later, until the socket
 * closes. */
static void run_peer(int fd)
{
	signal(SIGPIPE, SIG_DFL);
	char buf[256];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		usleep(1000);
		if (write(fd, buf, (size_t)n) != n)
			break;
	}
	_exit(0);
}

static void send_line(void)
{
	struct iovec iov = { "ping\n", 5 };
	write_batch_add(batch, bev, &iov, 1);
}

/* Each answer sends the next line, until ROUNDS answers came. */
static void on_read(struct bufferevent *b, void *arg)
{
	(void)arg;
	struct evbuffer *in = bufferevent_get_input(b);
	char *line;
	while ((line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF))) {
		free(line);
		if (++answers == ROUNDS)
			event_base_loopexit(base, NULL);
		else
			send_line();
	}
}

static void setup(void)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	peer = fork();
	ck_assert_int_ge(peer, 0);
	if (peer == 0) {
		close(sv[0]);
		run_peer(sv[1]);
	}
	close(sv[1]);
	base = event_base_new();
	batch = write_batch_new(base);
	evutil_make_socket_nonblocking(sv[0]);
	bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, on_read, NULL, NULL, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	answers = 0;
}

static void teardown(void)
{
	bufferevent_free(bev); /* closes the socket: the peer reads its end and exits */
	write_batch_free(batch);
	event_base_free(base);
	waitpid(peer, NULL, 0);
}

/* Voluntary context switches: the times this process went to sleep. */
static long sleeps(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw;
}

/* ROUNDS round trips with the peer; returns how often the loop slept. */
static long round_trips(int64_t poll_us)
{
	busy_poll_us = poll_us;
	send_line();
	long before = sleeps();
	loop_run(base, batch, &busy_poll_us);
	long slept = sleeps() - before;
	ck_assert_int_eq(answers, ROUNDS);
	return slept;
}

START_TEST(without_busy_polling_it_sleeps_for_each_answer)
{
	/* about one sleep per answer (a turn may find the answer there already) */
	ck_assert_int_ge(round_trips(0), ROUNDS / 2);
}
END_TEST

START_TEST(busy_polling_reads_the_answers_awake)
{
	/* The peer answers within ~1 ms; the loop polls for up to 100 ms
	 * after each write, so it never waits asleep. A few switches are
	 * allowed for whatever else the kernel does to the process. */
	ck_assert_int_lt(round_trips(100000), ROUNDS / 4);
}
END_TEST

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
	event_base_loopexit(base, NULL);
}

START_TEST(timers_fire_and_the_loop_ends_while_polling)
{
	/* One write, no answer awaited (the peer's echo is not read: no read
	 * callback ends the loop), a 20 ms timer during a 5 s poll. */
	bufferevent_disable(bev, EV_READ);
	int fired = 0;
	struct event *timer = evtimer_new(base, stop_cb, &fired);
	struct timeval tv = { 0, 20000 };
	evtimer_add(timer, &tv);
	busy_poll_us = 5000000;
	send_line();
	struct timeval t0, t1;
	gettimeofday(&t0, NULL);
	loop_run(base, batch, &busy_poll_us);
	gettimeofday(&t1, NULL);
	ck_assert_int_eq(fired, 1);
	/* it ended at the timer, well before the poll's budget ran out */
	ck_assert_int_lt((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_usec - t0.tv_usec), 500000);
	event_free(timer);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, without_busy_polling_it_sleeps_for_each_answer);
	tcase_add_test(tc, busy_polling_reads_the_answers_awake);
	tcase_add_test(tc, timers_fire_and_the_loop_ends_while_polling);
	suite_add_tcase(s, tc);
	return s;
}
