/* The demo databases a fresh data folder gets, so the broker's default
 * config answers a query on a machine with no database server: "demo"
 * (customers, products, orders) and "analytics" (daily_metrics). */
#ifndef AB_SQLITE_MCP_DEMO_H
#define AB_SQLITE_MCP_DEMO_H

/* Create them when dir holds no *.db file. Returns 0, or -1 (on stderr). */
int demo_create_if_empty(const char *dir);

#endif
