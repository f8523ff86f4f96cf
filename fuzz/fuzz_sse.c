/* libFuzzer: the Server-Sent Events reader of the Streamable HTTP
 * transport. However the bytes are split, the events are the same, and
 * each is NUL-terminated at its length and no larger than the bound. */
#include "build-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/mcp/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENT 4096

struct seen {
	uint64_t hash; /* of every event, in order */
	size_t count;
};

static void on_event(void *arg, const char *type, const char *event, size_t len)
{
	struct seen *s = arg;
	if (len > MAX_EVENT || event[len] != '\0' || strlen(type) >= 32)
		__builtin_trap();
	for (const char *c = type; *c; c++)
		s->hash = (s->hash ^ (uint8_t)*c) * 1099511628211u;
	for (size_t i = 0; i < len; i++)
		s->hash = (s->hash ^ (uint8_t)event[i]) * 1099511628211u;
	s->hash = (s->hash ^ 0xff) * 1099511628211u;
	s->count++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole = { 14695981039346656037u, 0 }, split = whole;
	struct sse a, b;
	sse_init(&a, MAX_EVENT);
	sse_init(&b, MAX_EVENT);
	sse_feed(&a, (const char *)data, size, on_event, &whole);
	size_t cut = size ? data[0] % (size + 1) : 0;
	sse_feed(&b, (const char *)data, cut, on_event, &split);
	sse_feed(&b, (const char *)data + cut, size - cut, on_event, &split);
	if (whole.count != split.count || whole.hash != split.hash || strcmp(a.last_id, b.last_id) != 0)
		__builtin_trap();
	sse_free(&a);
	sse_free(&b);
	return 0;
}
