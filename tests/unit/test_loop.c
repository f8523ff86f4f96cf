/* Unit tests for core/loop.c: with busy polling on, the answers to what
 * the loop sent are read without it going to sleep (no voluntary context
 * switch); off, or turned off by a reload in the middle of a poll, it
 * sleeps for each; timers fire while it polls; it ends on loopexit and
 * loopbreak whether it sleeps or polls, and when no events are left. A
 * real event loop and a real peer process on a socketpair that answers
 * each line after a short delay. */
#include "build-config.h"

#include <check.h>

#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/loop.h"
#include "core/timefmt.h"
#include "tests/unit/unit_suite.h"

static struct event_base *base;
static struct bufferevent *bev;
static pid_t peer;
static uint64_t messages; /* answers read: the loop's sign of traffic */
static uint64_t rounds;   /* answers after which the loop is told to end */
static int64_t busy_poll_us;

/* The peer: echoes every byte it reads, 1 ms later, until the socket
 * closes. */
static void run_peer(int fd)
{
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
	bufferevent_write(bev, "ping\n", 5);
}

/* Each answer sends the next line, until rounds answers came. */
static void on_read(struct bufferevent *b, void *arg)
{
	(void)arg;
	struct evbuffer *in = bufferevent_get_input(b);
	char *line;
	while ((line = evbuffer_readln(in, NULL, EVBUFFER_EOL_LF))) {
		free(line);
		if (++messages == rounds)
			event_base_loopexit(base, NULL);
		else if (messages < rounds)
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
	evutil_make_socket_nonblocking(sv[0]);
	bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, on_read, NULL, NULL, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	messages = 0;
	rounds = 20;
}

static void teardown(void)
{
	bufferevent_free(bev); /* closes the socket: the peer reads its end and exits */
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

/* Round trips with the peer until rounds answers came; returns how often
 * the loop slept meanwhile. */
static long round_trips(int64_t poll_us)
{
	busy_poll_us = poll_us;
	send_line();
	long before = sleeps();
	loop_run(base, &messages, &busy_poll_us);
	long slept = sleeps() - before;
	ck_assert_uint_eq(messages, rounds);
	return slept;
}

START_TEST(without_busy_polling_it_sleeps_for_each_answer)
{
	/* about once per answer (a turn may find the next one there already) */
	ck_assert_int_ge(round_trips(0), (long)rounds / 2);
}
END_TEST

START_TEST(busy_polling_reads_the_answers_awake)
{
	/* The peer answers within ~1 ms and the loop polls for up to 100 ms
	 * after each answer (room for a busy machine): it sleeps only for the
	 * first. A few switches are allowed for whatever else the kernel does
	 * to the process. */
	ck_assert_int_lt(round_trips(100000), (long)rounds / 4);
}
END_TEST

static long sleeps_at_reload;

static void reload_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	busy_poll_us = 0;
	sleeps_at_reload = sleeps();
}

START_TEST(a_reload_that_turns_it_off_applies_in_the_middle_of_a_poll)
{
	/* Answers every ~1 ms for ~60 ms, polled awake for the first 20 ms;
	 * then busy_poll_us = 0, as a reload sets it, and the loop sleeps for
	 * the ~40 answers that follow. */
	rounds = 60;
	struct event *reload = evtimer_new(base, reload_cb, NULL);
	struct timeval tv = { 0, 20000 };
	evtimer_add(reload, &tv);
	round_trips(100000);
	ck_assert_int_ge(sleeps() - sleeps_at_reload, 15);
	event_free(reload);
}
END_TEST

static bool use_break;

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
	if (use_break)
		event_base_loopbreak(base);
	else
		event_base_loopexit(base, NULL);
}

/* One answer starts a 5 s poll (longer than a config allows, to tell its
 * end from the timer's), and nothing follows it: the answer asks for no
 * more and ends nothing. A timer 20 ms in ends the loop. */
static void stop_while_polling(bool with_break)
{
	use_break = with_break;
	rounds = 0; /* on_read neither asks again nor ends the loop */
	int fired = 0;
	struct event *timer = evtimer_new(base, stop_cb, &fired);
	struct timeval tv = { 0, 20000 };
	evtimer_add(timer, &tv);
	busy_poll_us = 5000000;
	send_line();
	uint64_t start = timefmt_monotonic_us();
	long before = sleeps();
	loop_run(base, &messages, &busy_poll_us);
	ck_assert_int_eq(fired, 1);
	ck_assert_uint_eq(messages, 1);
	/* it ended at the timer, not at the poll's end, and polled meanwhile:
	 * it slept once, for the answer, and not for the timer */
	ck_assert_uint_lt(timefmt_monotonic_us() - start, 2500000);
	ck_assert_int_le(sleeps() - before, 1);
	event_free(timer);
}

START_TEST(timers_fire_and_loopexit_ends_it_while_polling)
{
	stop_while_polling(false);
}
END_TEST

START_TEST(loopbreak_ends_it_while_polling)
{
	stop_while_polling(true);
}
END_TEST

START_TEST(it_returns_when_no_events_are_left)
{
	struct event_base *empty = event_base_new();
	uint64_t none = 0;
	int64_t poll_us = 10000;
	loop_run(empty, &none, &poll_us); /* returns, or the test times out */
	event_base_free(empty);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("loop");
	TCase *tc = tcase_create("loop");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, without_busy_polling_it_sleeps_for_each_answer);
	tcase_add_test(tc, busy_polling_reads_the_answers_awake);
	tcase_add_test(tc, a_reload_that_turns_it_off_applies_in_the_middle_of_a_poll);
	tcase_add_test(tc, timers_fire_and_loopexit_ends_it_while_polling);
	tcase_add_test(tc, loopbreak_ends_it_while_polling);
	tcase_add_test(tc, it_returns_when_no_events_are_left);
	suite_add_tcase(s, tc);
	return s;
}
