#include "build-config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>

#include "core/write_batch.h"

/* What one socket's turn may hold: past it, the bytes go out at once, and
 * what the socket refuses waits as any output does (with the write event
 * on, and counted by write_batch_pending). */
#define HOLD_MAX 65536

struct write_batch {
	struct event *flush_event; /* activated by the first write of a turn */
	struct bufferevent **waiting; /* each with a reference we hold */
	size_t n, cap;
};

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	write_batch_flush(arg);
}

struct write_batch *write_batch_new(struct event_base *base)
{
	struct write_batch *w = calloc(1, sizeof *w);
	if (w && !(w->flush_event = event_new(base, -1, 0, flush_cb, w))) {
		free(w);
		return NULL;
	}
	return w;
}

static void flush_one(struct bufferevent *bev, bool callbacks);

void write_batch_free(struct write_batch *w)
{
	if (!w)
		return;
	/* The plugins are destroyed: write what waits, call nobody back. */
	for (size_t i = 0; i < w->n; i++)
		flush_one(w->waiting[i], false);
	event_free(w->flush_event);
	free(w->waiting);
	free(w);
}

/* Hold bev until the flush. False without memory: then libevent writes it
 * as it would any bufferevent's output. */
static bool hold(struct write_batch *w, struct bufferevent *bev)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct bufferevent **grown = realloc(w->waiting, cap * sizeof *grown);
		if (!grown)
			return false;
		w->waiting = grown;
		w->cap = cap;
	}
	/* Off, the write event is not registered when the bytes come. Off
	 * already means held (or that its owner stopped writing): either way
	 * the bytes just join the output. */
	bufferevent_disable(bev, EV_WRITE);
	bufferevent_incref(bev); /* its owner may free it before the flush */
	w->waiting[w->n++] = bev;
	if (w->n == 1)
		event_active(w->flush_event, EV_TIMEOUT, 0);
	return true;
}

/* Held: writing is off (write_now's owners leave EV_WRITE alone) while
 * the output has bytes for the flush. libevent also turns EV_WRITE off
 * after a write error; such a bufferevent looks held, which is harmless:
 * its owner hears of the error, and nothing it holds can be written. */
static bool is_held(struct bufferevent *bev)
{
	return !(bufferevent_get_enabled(bev) & EV_WRITE) && evbuffer_get_length(bufferevent_get_output(bev)) > 0;
}

/* Write what the socket takes of bev's output now. */
static void write_out(struct bufferevent *bev)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	evutil_socket_t fd = bufferevent_getfd(bev);
	if (fd < 0 || evbuffer_get_length(out) == 0)
		return;
	/* libevent freezes an output's start but in its own write: so do we */
	evbuffer_unfreeze(out, 1);
	evbuffer_write(out, fd); /* an error or EAGAIN: the bufferevent's write reports it */
	evbuffer_freeze(out, 1);
}

void write_batch_add(struct write_batch *w, struct bufferevent *bev, const struct iovec *iov, int n)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	/* Output waiting already: the write event is registered and takes
	 * these bytes too. Writing off with bytes waiting: held already. */
	if ((bufferevent_get_enabled(bev) & EV_WRITE) && evbuffer_get_length(out) == 0)
		hold(w, bev);
	for (int i = 0; i < n; i++)
		evbuffer_add(out, iov[i].iov_base, iov[i].iov_len);
	if (is_held(bev) && evbuffer_get_length(out) >= HOLD_MAX) {
		write_out(bev);
		if (evbuffer_get_length(out) > 0)
			bufferevent_enable(bev, EV_WRITE); /* refused: queued output now */
	}
}

size_t write_batch_pending(struct bufferevent *bev)
{
	return is_held(bev) ? 0 : evbuffer_get_length(bufferevent_get_output(bev));
}

static void flush_one(struct bufferevent *bev, bool callbacks)
{
	write_out(bev);
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		/* All written: writing enabled with no write event registered is
		 * the state libevent itself leaves an idle bufferevent in (its
		 * enable would register one). Then the owner's write callback
		 * runs, as after any write that drains the output. */
		bev->enabled |= EV_WRITE;
		if (callbacks)
			bufferevent_trigger(bev, EV_WRITE, 0);
	} else {
		bufferevent_enable(bev, EV_WRITE); /* the rest when the socket drains */
	}
	bufferevent_decref(bev); /* a bufferevent its owner freed goes now, and its rest with it */
}

void write_batch_flush(struct write_batch *w)
{
	/* A write callback may write again: such a bufferevent joins the end
	 * of the list and is flushed in this same pass. */
	for (size_t i = 0; i < w->n; i++)
		flush_one(w->waiting[i], true);
	w->n = 0;
}
