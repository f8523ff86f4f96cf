/* The route table: [route:NAME] sections compiled at config load. A message
 * goes by the first route, in file order, whose source pattern matches its
 * sender and whose type pattern matches its type. Routes whose type is a
 * single literal are indexed by type, so matching cost does not grow with
 * the number of routes for other types. Tables are reference counted: a
 * reload swaps in a new one while requests in flight keep the old. */
#ifndef AB_CORE_ROUTES_H
#define AB_CORE_ROUTES_H

#include <stdint.h>

#include "core/config.h"
#include "core/diag.h"
#include "core/options.h"
#include "core/pattern.h"

struct ab_instance;
struct hashmap;

struct ab_route {
	char *name;
	const char *file; /* borrowed from the table's config */
	int line;
	size_t index; /* position in file order */
	struct pattern_list source, type, destination, interim;
	struct ab_instance *translator; /* NULL: messages pass through untouched */
	void *translator_state;         /* from the translator's route_attach */
	bool attached;
	int64_t timeout_ms;
	int64_t max_timeout_ms; /* interim replies extend the deadline up to this; 0: they do not */
	bool oneway;    /* no reply expected: delivered, not tracked */
	bool exclusive; /* one request at a time per destination (requests.c) */
	const char *error_reply_type; /* the type of error replies: "error", "query_error"... */
	struct option_values options; /* the core's route keys and the translator's */
	char *last_destination;       /* pattern destinations: the agent chosen last */
};

struct route_bucket; /* routes with one literal type, in file order */

struct route_table {
	unsigned refs;
	struct config *config;
	struct ab_route *routes;
	size_t count;
	struct hashmap *by_type;       /* literal type -> struct route_bucket */
	struct ab_route **wild;        /* routes with a type pattern, in file order */
	size_t n_wild;
};

/* The keys every [route:NAME] section takes. */
extern const struct ab_option routes_core_options[];

/* Compile the [route:*] sections of cfg. find_translator returns the
 * translator instance called `name`, or NULL (the route is then refused).
 * Errors go to d. Returns the table (with one reference), or NULL. */
struct route_table *routes_compile(struct config *cfg, int64_t default_timeout_ms,
                                   struct ab_instance *(*find_translator)(const char *name, void *arg),
                                   void *arg, struct diag *d);

/* Ask each route's translator for its per-route state. Returns 0, or -1 with
 * the failures in d. */
int routes_attach(struct route_table *table, struct diag *d);

struct route_table *routes_ref(struct route_table *table);
void routes_unref(struct route_table *table); /* detaches translators at the last reference */

/* The first route for this sender and type, or NULL. */
struct ab_route *routes_match(const struct route_table *table, const char *source,
                              const char *type);

#endif
