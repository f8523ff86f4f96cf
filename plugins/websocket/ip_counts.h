/* Connections per client address, for the per-address connection limit. */
#ifndef AB_WS_IP_COUNTS_H
#define AB_WS_IP_COUNTS_H

#include <stddef.h>

struct ip_counts;
struct sockaddr;

#define IP_KEY_LEN 52 /* INET6_ADDRSTRLEN (46), "/64" and its NUL */

/* The key a peer is counted under: its IPv4 address (also when it comes
 * IPv4-mapped on an IPv6 socket), or for IPv6 its /64 ("2001:db8::/64"),
 * since one host is routinely given a whole /64 and could otherwise take a
 * fresh address for every connection. "?" for other families. */
void ip_counts_key(const struct sockaddr *addr, char out[IP_KEY_LEN]);

struct ip_counts *ip_counts_new(void);
void ip_counts_free(struct ip_counts *t);

/* One more connection from ip; returns how many it has now (0: no memory). */
size_t ip_counts_add(struct ip_counts *t, const char *ip);

/* One fewer. */
void ip_counts_remove(struct ip_counts *t, const char *ip);

#endif
