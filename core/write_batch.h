/* Writes to plain sockets, batched per loop turn (the write_now service).
 *
 * What plugins write to one bufferevent while the loop runs its callbacks
 * (the router delivering a batch of replies, say) leaves in one writev at
 * the end of that turn, instead of one syscall per message; and without
 * libevent's write event, whose registration, wakeup and removal would cost
 * two epoll_ctl calls and a loop turn per burst. What the socket does not
 * take is left to the bufferevent, which writes it when the socket drains.
 *
 * The bytes sit in the bufferevent's output meanwhile, with EV_WRITE off
 * until the flush; past 64 KiB in one turn they go out at once. A
 * slow-reader bound counts write_batch_pending, which leaves held bytes
 * out: they are not waiting for the reader, only for the turn's end. */
#ifndef AB_CORE_WRITE_BATCH_H
#define AB_CORE_WRITE_BATCH_H

#include <stddef.h>

struct event_base;
struct bufferevent;
struct iovec;
struct write_batch;

struct write_batch *write_batch_new(struct event_base *base);

/* Writes what waits, without calling anyone back (the plugins are gone),
 * then frees. */
void write_batch_free(struct write_batch *w);

/* Queue n pieces on bev (a plain socket's; never a TLS one, since the
 * flush writes to its descriptor), in order after what it holds already. */
void write_batch_add(struct write_batch *w, struct bufferevent *bev, const struct iovec *iov, int n);

/* Write what waits now (the end of a turn). */
void write_batch_flush(struct write_batch *w);

/* bev's output the socket has not taken, less what waits for the flush. */
size_t write_batch_pending(struct bufferevent *bev);

#endif
