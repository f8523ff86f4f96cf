/* Writes to plain sockets, batched per loop turn (the write_now service).
 *
 * What plugins write to one bufferevent while the loop runs its callbacks
 * (the router delivering a batch of replies, say) leaves in one writev at
 * the end of that turn, instead of one syscall per message; and without
 * libevent's write event, whose registration, wakeup and removal would cost
 * two epoll_ctl calls and a loop turn per burst. What the socket does not
 * take is left to the bufferevent, which writes it when the socket drains.
 *
 * The bytes sit in the bufferevent's output meanwhile, so its length counts
 * them, as a slow-reader bound needs. Its write event stays off until the
 * flush (EV_WRITE is disabled while bytes wait there). */
#ifndef AB_CORE_WRITE_BATCH_H
#define AB_CORE_WRITE_BATCH_H

struct event_base;
struct bufferevent;
struct iovec;
struct write_batch;

struct write_batch *write_batch_new(struct event_base *base);

/* Flushes what waits, then frees. */
void write_batch_free(struct write_batch *w);

/* Queue n pieces on bev (a plain socket's; never a TLS one, since the
 * flush writes to its descriptor), in order after what it holds already. */
void write_batch_add(struct write_batch *w, struct bufferevent *bev, const struct iovec *iov, int n);

/* Write what waits now (the end of a turn; also at free). */
void write_batch_flush(struct write_batch *w);

#endif
