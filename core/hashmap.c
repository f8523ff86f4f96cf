#include "build-config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/hashmap.h"

struct slot {
	const char *key; /* NULL: empty */
	uint64_t hash;
	void *value;
};

struct hashmap {
	struct slot *slots;
	size_t capacity; /* a power of two */
	size_t count;
};

static uint64_t sip_k0 = 0x0706050403020100ull, sip_k1 = 0x0f0e0d0c0b0a0908ull;

void hashmap_seed(const unsigned char key[16])
{
	memcpy(&sip_k0, key, 8);
	memcpy(&sip_k1, key + 8, 8);
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                               \
	do {                                                                                   \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                      \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                         \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                         \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                      \
	} while (0)

/* SipHash-1-3 (the variant Python and Rust use for their tables). */
static uint64_t siphash(const char *data, size_t len)
{
	uint64_t v0 = 0x736f6d6570736575ull ^ sip_k0, v1 = 0x646f72616e646f6dull ^ sip_k1;
	uint64_t v2 = 0x6c7967656e657261ull ^ sip_k0, v3 = 0x7465646279746573ull ^ sip_k1;
	const unsigned char *p = (const unsigned char *)data;
	size_t whole = len & ~(size_t)7;
	for (size_t i = 0; i < whole; i += 8) {
		uint64_t m;
		memcpy(&m, p + i, 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	uint64_t last = (uint64_t)len << 56;
	for (size_t i = 0; i < (len & 7); i++)
		last |= (uint64_t)p[whole + i] << (8 * i);
	v3 ^= last;
	SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

struct hashmap *hashmap_new(void)
{
	struct hashmap *map = calloc(1, sizeof *map);
	if (!map)
		return NULL;
	map->capacity = 16;
	map->slots = calloc(map->capacity, sizeof *map->slots);
	if (!map->slots) {
		free(map);
		return NULL;
	}
	return map;
}

void hashmap_free(struct hashmap *map)
{
	if (!map)
		return;
	free(map->slots);
	free(map);
}

static size_t find_slot(const struct hashmap *map, const char *key, uint64_t hash)
{
	size_t mask = map->capacity - 1;
	size_t i = hash & mask;
	while (map->slots[i].key) {
		if (map->slots[i].hash == hash && strcmp(map->slots[i].key, key) == 0)
			return i;
		i = (i + 1) & mask;
	}
	return i; /* the empty slot where the key would go */
}

void *hashmap_get(const struct hashmap *map, const char *key)
{
	size_t i = find_slot(map, key, siphash(key, strlen(key)));
	return map->slots[i].key ? map->slots[i].value : NULL;
}

static int grow(struct hashmap *map)
{
	size_t old_capacity = map->capacity;
	struct slot *old = map->slots;
	struct slot *slots = calloc(old_capacity * 2, sizeof *slots);
	if (!slots)
		return -1;
	map->slots = slots;
	map->capacity = old_capacity * 2;
	for (size_t i = 0; i < old_capacity; i++) {
		if (old[i].key)
			map->slots[find_slot(map, old[i].key, old[i].hash)] = old[i];
	}
	free(old);
	return 0;
}

int hashmap_put(struct hashmap *map, const char *key, void *value)
{
	/* Keep the load under 3/4 so probe runs stay short. */
	if ((map->count + 1) * 4 > map->capacity * 3 && grow(map) < 0)
		return -1;
	uint64_t hash = siphash(key, strlen(key));
	size_t i = find_slot(map, key, hash);
	if (!map->slots[i].key)
		map->count++;
	map->slots[i] = (struct slot){ .key = key, .hash = hash, .value = value };
	return 0;
}

void *hashmap_remove(struct hashmap *map, const char *key)
{
	size_t mask = map->capacity - 1;
	size_t i = find_slot(map, key, siphash(key, strlen(key)));
	if (!map->slots[i].key)
		return NULL;
	void *value = map->slots[i].value;
	/* Backward-shift: pull later members of the probe run into the hole so
	 * lookups never need tombstones. */
	size_t hole = i;
	for (size_t j = (i + 1) & mask; map->slots[j].key; j = (j + 1) & mask) {
		size_t home = map->slots[j].hash & mask;
		/* Move j into the hole unless its home lies cyclically in (hole, j]. */
		bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (!stays) {
			map->slots[hole] = map->slots[j];
			hole = j;
		}
	}
	map->slots[hole] = (struct slot){ 0 };
	map->count--;
	return value;
}

size_t hashmap_count(const struct hashmap *map)
{
	return map->count;
}

void hashmap_foreach(const struct hashmap *map, void (*fn)(const char *key, void *value, void *arg),
                     void *arg)
{
	for (size_t i = 0; i < map->capacity; i++) {
		if (map->slots[i].key)
			fn(map->slots[i].key, map->slots[i].value, arg);
	}
}
