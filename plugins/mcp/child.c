#include "mcp.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "backoff.h"
#include "timer.h"
#include "child.h"

#define TERM_GRACE_MS 2000 /* after stdin closes, before SIGTERM */
#define KILL_GRACE_MS 3000 /* after SIGTERM, before SIGKILL */

struct child {
	struct upstream *u;
	char **argv;
	char **env; /* "NAME=value" added to the child's environment */
	struct link_events ev;
	pid_t pid;
	struct bufferevent *in, *out, *err;
	struct event *timer; /* restart, or the stop's escalation */
	struct event *reap;  /* polls waitpid once the child's stdout closed */
	struct backoff backoff;
	time_t started;
	bool stopping, termed;
	time_t gone_at; /* when its stdout closed */
	void (*stopped)(struct upstream *u);
};

char **child_split_command(const char *command)
{
	size_t cap = 8, n = 0;
	char **argv = calloc(cap, sizeof *argv);
	const char *at = command;
	while (argv) {
		while (*at == ' ' || *at == '\t')
			at++;
		if (!*at)
			break;
		char *word = malloc(strlen(at) + 1), *w = word;
		if (!word)
			goto fail;
		while (*at && *at != ' ' && *at != '\t') {
			if (*at == '\'' || *at == '"') {
				char quote = *at++;
				while (*at && *at != quote)
					*w++ = *at++;
				if (*at != quote) {
					free(word);
					goto fail;
				}
				at++;
			} else {
				*w++ = *at++;
			}
		}
		*w = '\0';
		if (n + 2 > cap) {
			char **grown = realloc(argv, (cap *= 2) * sizeof *grown);
			if (!grown) {
				free(word);
				goto fail;
			}
			argv = grown;
		}
		argv[n++] = word;
		argv[n] = NULL;
	}
	if (argv && n == 0)
		goto fail;
	return argv;
fail:
	child_free_argv(argv);
	return NULL;
}

void child_free_argv(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static struct event_base *base_of(struct child *c)
{
	return c->u->svc->event_base(c->u->self);
}

static void close_pipes(struct child *c)
{
	if (c->in)
		bufferevent_free(c->in);
	if (c->out)
		bufferevent_free(c->out);
	if (c->err)
		bufferevent_free(c->err);
	c->in = c->out = c->err = NULL;
}

static void on_stdout(struct bufferevent *bev, void *arg)
{
	struct child *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;
	while (c->out && (line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
		if (len)
			c->ev.line(c->u, line, len, 0);
		free(line);
	}
}

static void on_stderr(struct bufferevent *bev, void *arg)
{
	struct child *c = arg;
	char *line;
	size_t len;
	while ((line = evbuffer_readln(bufferevent_get_input(bev), &len, EVBUFFER_EOL_LF))) {
		up_log(c->u, AB_LOG_INFO, "server: %s", line);
		free(line);
	}
}

/* stdout closed or failed: the child is going; collect it. */
static void on_stdout_event(struct bufferevent *bev, short what, void *arg)
{
	struct child *c = arg;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	close_pipes(c);
	c->gone_at = time(NULL);
	if (!c->stopping) /* it serves us no more, whether it runs on or not */
		c->ev.down(c->u, "the server closed its stdout");
	timer_arm_ms(c->reap, 0);
}

static void on_stderr_event(struct bufferevent *bev, short what, void *arg)
{
}

static void describe_exit(int status, char *out, size_t len)
{
	if (WIFEXITED(status))
		snprintf(out, len, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, len, "ended");
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	int status;
	pid_t got = c->pid > 0 ? waitpid(c->pid, &status, WNOHANG) : -1;
	if (got == 0) {
		/* Its stdout is closed but it runs on: TERM, then KILL. */
		if (!c->termed) {
			kill(c->pid, SIGTERM);
			c->termed = true;
		} else if (time(NULL) - c->gone_at >= (KILL_GRACE_MS + 999) / 1000) {
			kill(c->pid, SIGKILL);
		}
		timer_arm_ms(c->reap, 100);
		return;
	}
	char why[96] = "ended";
	if (got > 0)
		describe_exit(status, why, sizeof why);
	c->pid = 0;
	close_pipes(c);
	evtimer_del(c->timer);
	if (c->stopping) {
		if (c->stopped)
			c->stopped(c->u);
		return;
	}
	/* A server that served a while starts its backoff afresh (backoff.h). */
	if (time(NULL) - c->started > 30)
		backoff_reset(&c->backoff);
	uint64_t wait = backoff_next(&c->backoff);
	up_log(c->u, AB_LOG_WARNING, "the server %s; restarting in %llu ms", why, (unsigned long long)wait);
	timer_arm_ms(c->timer, wait);
}

static void spawn(struct child *c)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		char text[128];
		snprintf(text, sizeof text, "cannot make pipes: %s", strerror(errno));
		for (int i = 0; i < 2; i++) {
			if (in[i] >= 0) close(in[i]);
			if (out[i] >= 0) close(out[i]);
			if (err[i] >= 0) close(err[i]);
		}
		c->ev.down(c->u, text);
		timer_arm_ms(c->timer, backoff_next(&c->backoff));
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		/* dup2 onto itself keeps O_CLOEXEC: clear it instead. */
		int ends[3] = { in[0], out[1], err[1] };
		for (int fd = 0; fd < 3; fd++) {
			if (ends[fd] == fd)
				fcntl(fd, F_SETFD, 0);
			else
				dup2(ends[fd], fd);
		}
		signal(SIGPIPE, SIG_DFL);
		for (char **e = c->env; e && *e; e++)
			putenv(*e); /* the broker is one thread: nothing else runs between fork and exec */
		execvp(c->argv[0], c->argv);
		fprintf(stderr, "cannot run %s: %s\n", c->argv[0], strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		close(err[0]);
		c->ev.down(c->u, "cannot fork");
		timer_arm_ms(c->timer, backoff_next(&c->backoff));
		return;
	}
	c->pid = pid;
	c->started = time(NULL);
	c->termed = false;
	struct event_base *base = base_of(c);
	evutil_make_socket_nonblocking(in[1]);
	evutil_make_socket_nonblocking(out[0]);
	evutil_make_socket_nonblocking(err[0]);
	c->in = bufferevent_socket_new(base, in[1], BEV_OPT_CLOSE_ON_FREE);
	c->out = bufferevent_socket_new(base, out[0], BEV_OPT_CLOSE_ON_FREE);
	c->err = bufferevent_socket_new(base, err[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->out, on_stdout, NULL, on_stdout_event, c);
	bufferevent_setcb(c->err, on_stderr, NULL, on_stderr_event, c);
	bufferevent_enable(c->out, EV_READ);
	bufferevent_enable(c->err, EV_READ);
	bufferevent_enable(c->in, EV_WRITE);
	up_log(c->u, AB_LOG_INFO, "started %s (pid %d)", c->argv[0], (int)pid);
	c->ev.up(c->u);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	if (!c->stopping) {
		spawn(c);
		return;
	}
	/* The stop's escalation. */
	if (c->pid > 0 && !c->termed) {
		kill(c->pid, SIGTERM);
		c->termed = true;
		timer_arm_ms(c->timer, KILL_GRACE_MS);
	} else if (c->pid > 0) {
		kill(c->pid, SIGKILL);
	}
}

void child_set_env(struct child *c, char **env)
{
	child_free_argv(c->env);
	c->env = env;
}

struct child *child_new(struct upstream *u, char **argv, const struct link_events *ev)
{
	struct child *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->u = u;
	c->argv = argv;
	c->ev = *ev;
	c->timer = evtimer_new(u->svc->event_base(u->self), timer_cb, c);
	c->reap = evtimer_new(u->svc->event_base(u->self), reap_cb, c);
	return c;
}

void child_start(struct child *c)
{
	spawn(c);
}

bool child_send(struct child *c, const char *data, size_t len)
{
	if (!c->in)
		return false;
	/* One message per line: a line break inside it (whitespace, in JSON
	 * that was checked: carried bytes keep a client's) becomes a space, or
	 * the rest of it would reach the server as lines of their own. */
	char *flat = NULL;
	if (memchr(data, '\n', len) || memchr(data, '\r', len)) {
		if (!(flat = malloc(len)))
			return false;
		for (size_t i = 0; i < len; i++)
			flat[i] = data[i] == '\n' || data[i] == '\r' ? ' ' : data[i];
	}
	struct iovec line[2] = { { flat ? flat : (void *)data, len }, { "\n", 1 } };
	c->u->svc->write_now(c->u->self, c->in, line, 2);
	free(flat);
	return true;
}

void child_stop(struct child *c, void (*stopped)(struct upstream *u))
{
	c->stopping = true;
	c->stopped = stopped;
	if (c->pid <= 0) { /* between two runs: no restart any more */
		evtimer_del(c->timer);
		evtimer_del(c->reap);
		if (stopped)
			stopped(c->u);
		return;
	}
	if (c->in) { /* EOF on its stdin: a well-behaved server exits */
		bufferevent_free(c->in);
		c->in = NULL;
	}
	timer_arm_ms(c->timer, TERM_GRACE_MS);
}

void child_free(struct child *c)
{
	if (!c)
		return;
	close_pipes(c);
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	event_free(c->timer);
	event_free(c->reap);
	child_free_argv(c->argv);
	child_free_argv(c->env);
	free(c);
}

void child_restart(struct child *c)
{
	if (c->pid > 0 && !c->stopping) {
		close_pipes(c);
		kill(c->pid, SIGKILL);
		timer_arm_ms(c->reap, 0);
	}
}

pid_t child_pid(const struct child *c)
{
	return c->pid;
}

/* ---- as a link (link.h) -------------------------------------------------------------- */

static void link_start(void *link)
{
	child_start(link);
}

static bool link_send(void *link, const char *data, size_t len)
{
	return child_send(link, data, len);
}

static void link_restart(void *link)
{
	child_restart(link);
}

static bool link_stop(void *link, void (*stopped)(struct upstream *u))
{
	if (child_pid(link) <= 0)
		return false;
	child_stop(link, stopped);
	return true;
}

static void link_free(void *link)
{
	child_free(link);
}

const struct link_ops child_link_ops = {
	.transport = "stdio",
	.start = link_start,
	.send = link_send,
	.restart = link_restart,
	.stop = link_stop,
	.free = link_free,
};
