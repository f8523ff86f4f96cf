/* An MCP server as a child process (the stdio transport): started with its
 * command line, newline-delimited JSON on its stdin and stdout, its stderr
 * lines into the broker's log; when it exits it is restarted with
 * exponential backoff and jitter; at shutdown its stdin is closed, then it
 * gets SIGTERM, then SIGKILL. */
#ifndef AB_MCP_CHILD_H
#define AB_MCP_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "link.h"

struct child;

/* argv is split from a command line: words separated by blanks, with '...'
 * and "..." quoting. NULL for an empty or unbalanced one. */
char **child_split_command(const char *command);
void child_free_argv(char **argv);

/* A child for argv (taken): its link ops are child_link_ops. Events: line
 * is a line of stdout, up that it started (its pipes are open), down that
 * it stopped serving (stdout closed, or failed to start). */
struct child *child_new(struct upstream *u, char **argv, const struct link_events *ev);

/* Variables the child gets besides the broker's environment: "NAME=value"
 * strings, NULL-terminated (taken; NULL: none). */
void child_set_env(struct child *c, char **env);

/* Start now (the first time) or after the backoff (after an exit). */
void child_start(struct child *c);

/* Write one line (a newline is added). Returns false when not running. */
bool child_send(struct child *c, const char *data, size_t len);

/* Stop for good: close stdin, SIGTERM after a grace, SIGKILL after
 * another; stopped() is called once it is gone. */
void child_stop(struct child *c, void (*stopped)(struct upstream *u));

/* Kill a child that runs but cannot serve (its session failed): it is
 * restarted after the backoff, like one that exited. */
void child_restart(struct child *c);

void child_free(struct child *c); /* kills it if still running */

pid_t child_pid(const struct child *c);

#endif
