/* The server's requests as lines from stdin, readable while a tool runs:
 * input_cancelled() takes in what has arrived without blocking, so a
 * notifications/cancelled for the running request can stop it (SQLite's
 * progress handler asks); every line still waits its turn in order. */
#ifndef AB_SQLITE_MCP_INPUT_H
#define AB_SQLITE_MCP_INPUT_H

#include <stdbool.h>
#include <stddef.h>

#include <yajl/yajl_tree.h>

struct input {
	char *buf;
	size_t len, cap;
	size_t scanned; /* lines before this offset were checked for a cancel */
	bool eof;
};

/* The next line (NUL-terminated, without its newline), waiting for it;
 * NULL at the end of input. Valid until the next call. */
char *input_next_line(struct input *in);

/* Has a notifications/cancelled for request `id` arrived? Never blocks. */
bool input_cancelled(struct input *in, yajl_val id);

void input_free(struct input *in);

#endif
