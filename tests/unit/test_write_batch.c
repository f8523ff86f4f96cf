/* Unit tests for core/write_batch.c (the write_now service): what is written
 * to a plain socket during one loop turn leaves together at its end, in
 * order, counted in the output meanwhile but not as pending for the reader;
 * a burst goes out as it passes 64 KiB; what the socket does not take is
 * written as it drains; a bufferevent freed with a few bytes waiting still
 * sends them. A real socketpair and a real event loop. */
#include "build-config.h"

#include <check.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/write_batch.h"
#include "tests/unit/unit_suite.h"

static struct event_base *base;
static struct write_batch *batch;
static struct bufferevent *bev;
static int peer; /* the socketpair's other end, read by the test */
static int write_callbacks;
static const char *write_again; /* written by the write callback, once */

static void on_write(struct bufferevent *b, void *arg)
{
	(void)arg;
	write_callbacks++;
	if (write_again) {
		struct iovec iov = { (void *)write_again, strlen(write_again) };
		write_again = NULL;
		write_batch_add(batch, b, &iov, 1);
	}
}

static void on_event(struct bufferevent *b, short what, void *arg)
{
	(void)b;
	(void)what;
	(void)arg;
}

static void setup(void)
{
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	base = event_base_new();
	batch = write_batch_new(base);
	ck_assert_ptr_nonnull(batch);
	evutil_make_socket_nonblocking(sv[0]);
	bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, NULL, on_write, on_event, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	peer = sv[1];
	write_callbacks = 0;
	write_again = NULL;
}

static void teardown(void)
{
	if (bev)
		bufferevent_free(bev);
	bev = NULL;
	write_batch_free(batch);
	event_base_free(base);
	close(peer);
}

static void add(const char *a, const char *b)
{
	struct iovec iov[2] = { { (void *)a, strlen(a) }, { (void *)b, b ? strlen(b) : 0 } };
	write_batch_add(batch, bev, iov, b ? 2 : 1);
}

/* What the peer can read now, without waiting: "" when nothing. */
static char *read_now(void)
{
	static char buf[65536];
	ssize_t n = recv(peer, buf, sizeof buf - 1, MSG_DONTWAIT);
	if (n < 0) {
		ck_assert_int_eq(errno, EAGAIN);
		n = 0;
	}
	buf[n] = '\0';
	return buf;
}

static void one_turn(void)
{
	event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
}

START_TEST(writes_of_one_turn_leave_together_at_its_end)
{
	add("{\"a\":", "1}");
	add("{\"b\":2}", NULL);
	/* nothing sent yet, and the output counts what waits */
	ck_assert_str_eq(read_now(), "");
	ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(bev)), 14);
	one_turn();
	ck_assert_str_eq(read_now(), "{\"a\":1}{\"b\":2}");
	ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(bev)), 0);
	ck_assert_int_eq(write_callbacks, 1); /* as after any write that drains it */
	/* the next turn's writes go the same way */
	add("{\"c\":3}", NULL);
	one_turn();
	ck_assert_str_eq(read_now(), "{\"c\":3}");
	ck_assert_int_eq(write_callbacks, 2);
}
END_TEST

START_TEST(after_output_queued_already_in_order)
{
	evbuffer_add(bufferevent_get_output(bev), "first,", 6); /* libevent's own write */
	add("second,", NULL);
	add("third", NULL);
	for (int i = 0; i < 4; i++)
		one_turn();
	ck_assert_str_eq(read_now(), "first,second,third");
}
END_TEST

START_TEST(what_the_socket_refuses_goes_as_it_drains)
{
	int small = 4096;
	setsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	enum { TOTAL = 1 << 20 };
	char *sent = malloc(TOTAL), *got = malloc(TOTAL);
	for (size_t i = 0; i < TOTAL; i++)
		sent[i] = (char)('a' + i % 26);
	struct iovec iov = { sent, TOTAL };
	write_batch_add(batch, bev, &iov, 1);
	one_turn();
	size_t left = evbuffer_get_length(bufferevent_get_output(bev));
	ck_assert_uint_gt(left, 0);
	ck_assert_uint_lt(left, TOTAL);
	ck_assert_uint_eq(write_batch_pending(bev), left); /* refused: it waits for the reader */
	size_t n = 0;
	for (int turns = 0; n < TOTAL && turns < 100000; turns++) {
		ssize_t r = recv(peer, got + n, TOTAL - n, MSG_DONTWAIT);
		if (r > 0)
			n += (size_t)r;
		one_turn();
	}
	ck_assert_uint_eq(n, TOTAL);
	ck_assert(memcmp(sent, got, TOTAL) == 0);
	ck_assert_int_ge(write_callbacks, 1);
	free(sent);
	free(got);
}
END_TEST

START_TEST(freed_before_the_flush_still_sends_then_closes)
{
	add("last words", NULL);
	bufferevent_free(bev);
	bev = NULL;
	ck_assert_str_eq(read_now(), "");
	one_turn();
	ck_assert_str_eq(read_now(), "last words");
	/* the batch's reference was the last: the socket is closed */
	char c;
	ck_assert_int_eq(recv(peer, &c, 1, MSG_DONTWAIT), 0);
}
END_TEST

START_TEST(a_write_callback_writing_again_is_flushed_in_the_same_turn)
{
	write_again = "again";
	add("once,", NULL);
	one_turn();
	ck_assert_str_eq(read_now(), "once,again");
	ck_assert_int_eq(write_callbacks, 2);
}
END_TEST

START_TEST(free_flushes_what_waits_and_calls_nobody_back)
{
	add("at exit", NULL);
	write_batch_free(batch);
	batch = write_batch_new(base);
	ck_assert_str_eq(read_now(), "at exit");
	ck_assert_int_eq(write_callbacks, 0); /* the plugins are gone by then */
}
END_TEST

/* What waits for the turn's end is not waiting for the reader: a
 * slow-reader bound (write_pending) leaves it out. */
START_TEST(held_bytes_are_not_pending)
{
	add("{\"a\":1}", NULL);
	ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(bev)), 7);
	ck_assert_uint_eq(write_batch_pending(bev), 0);
	one_turn();
	ck_assert_uint_eq(write_batch_pending(bev), 0);
	ck_assert_str_eq(read_now(), "{\"a\":1}");
}
END_TEST

/* A burst to one socket in one turn goes out as it passes 64 KiB: what is
 * held stays small, and a reader that keeps up is never behind. */
START_TEST(a_burst_goes_out_as_it_grows)
{
	char piece[1000];
	memset(piece, 'b', sizeof piece);
	piece[sizeof piece - 1] = '\0';
	size_t most = 0, got = 0;
	for (int i = 0; i < 200; i++) {
		add(piece, NULL);
		size_t held = evbuffer_get_length(bufferevent_get_output(bev));
		most = held > most ? held : most;
		ck_assert_uint_eq(write_batch_pending(bev), 0); /* the socket took it all */
		got += strlen(read_now());
	}
	ck_assert_uint_lt(most, 65536 + sizeof piece);
	one_turn();
	got += strlen(read_now());
	ck_assert_uint_eq(got, 200 * (sizeof piece - 1));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("write_batch");
	TCase *tc = tcase_create("batch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, writes_of_one_turn_leave_together_at_its_end);
	tcase_add_test(tc, after_output_queued_already_in_order);
	tcase_add_test(tc, what_the_socket_refuses_goes_as_it_drains);
	tcase_add_test(tc, freed_before_the_flush_still_sends_then_closes);
	tcase_add_test(tc, a_write_callback_writing_again_is_flushed_in_the_same_turn);
	tcase_add_test(tc, free_flushes_what_waits_and_calls_nobody_back);
	tcase_add_test(tc, held_bytes_are_not_pending);
	tcase_add_test(tc, a_burst_goes_out_as_it_grows);
	suite_add_tcase(s, tc);
	return s;
}
