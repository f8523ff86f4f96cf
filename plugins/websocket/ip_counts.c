#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ip_counts.h"

void ip_counts_key(const struct sockaddr *addr, char out[IP_KEY_LEN])
{
	snprintf(out, IP_KEY_LEN, "?");
	if (addr->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, out, IP_KEY_LEN);
	} else if (addr->sa_family == AF_INET6) {
		struct in6_addr a = ((const struct sockaddr_in6 *)addr)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(&a)) {
			inet_ntop(AF_INET, &a.s6_addr[12], out, IP_KEY_LEN);
			return;
		}
		memset(&a.s6_addr[8], 0, 8);
		char prefix[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &a, prefix, sizeof prefix);
		snprintf(out, IP_KEY_LEN, "%s/64", prefix);
	}
}

#define BUCKETS 1024

struct entry {
	struct entry *next;
	size_t count;
	char ip[]; /* NUL-terminated */
};

struct ip_counts {
	struct entry *buckets[BUCKETS];
};

/* FNV-1a: addresses are chosen by the network, not crafted per lookup, and
 * a bad spread costs only a longer chain. */
static size_t bucket_of(const char *ip)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)ip; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % BUCKETS;
}

struct ip_counts *ip_counts_new(void)
{
	return calloc(1, sizeof(struct ip_counts));
}

void ip_counts_free(struct ip_counts *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < BUCKETS; i++) {
		for (struct entry *e = t->buckets[i], *next; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t);
}

size_t ip_counts_add(struct ip_counts *t, const char *ip)
{
	struct entry **head = &t->buckets[bucket_of(ip)];
	for (struct entry *e = *head; e; e = e->next) {
		if (strcmp(e->ip, ip) == 0)
			return ++e->count;
	}
	size_t len = strlen(ip);
	struct entry *e = malloc(sizeof *e + len + 1);
	if (!e)
		return 0;
	memcpy(e->ip, ip, len + 1);
	e->count = 1;
	e->next = *head;
	*head = e;
	return 1;
}

void ip_counts_remove(struct ip_counts *t, const char *ip)
{
	for (struct entry **link = &t->buckets[bucket_of(ip)]; *link; link = &(*link)->next) {
		struct entry *e = *link;
		if (strcmp(e->ip, ip) != 0)
			continue;
		if (--e->count == 0) {
			*link = e->next;
			free(e);
		}
		return;
	}
}
