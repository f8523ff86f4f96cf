/* Connections per client address, for the per-address connection limit. */
#ifndef AB_WS_IP_COUNTS_H
#define AB_WS_IP_COUNTS_H

#include <stddef.h>

struct ip_counts;

struct ip_counts *ip_counts_new(void);
void ip_counts_free(struct ip_counts *t);

/* One more connection from ip; returns how many it has now (0: no memory). */
size_t ip_counts_add(struct ip_counts *t, const char *ip);

/* One fewer. */
void ip_counts_remove(struct ip_counts *t, const char *ip);

#endif
