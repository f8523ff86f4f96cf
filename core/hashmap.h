/* A string-keyed hash table (open addressing, linear probing, backward-shift
 * deletion) with a keyed SipHash, so ids chosen by clients cannot be made to
 * collide. The map does not copy keys: each key must stay valid while its
 * entry is in the map (store it inside the value). */
#ifndef AB_CORE_HASHMAP_H
#define AB_CORE_HASHMAP_H

#include <stddef.h>

struct hashmap;

struct hashmap *hashmap_new(void);
void hashmap_free(struct hashmap *map); /* frees the table, not the values */

void *hashmap_get(const struct hashmap *map, const char *key);

/* Insert or replace. Returns 0, or -1 when out of memory. */
int hashmap_put(struct hashmap *map, const char *key, void *value);

/* Returns the removed value, or NULL. */
void *hashmap_remove(struct hashmap *map, const char *key);

size_t hashmap_count(const struct hashmap *map);

/* Calls fn for every entry, in no particular order. fn must not change the
 * map. */
void hashmap_foreach(const struct hashmap *map, void (*fn)(const char *key, void *value, void *arg),
                     void *arg);

/* Seed the hash (once, at startup, from the system's random source). */
void hashmap_seed(const unsigned char key[16]);

#endif
