#include "build-config.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "demo.h"

static const char demo_sql[] =
	"CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, country TEXT, created_at TEXT);"
	"INSERT INTO customers VALUES"
	" (1,'Ada Lovelace','ada@example.com','GB','2026-01-05'),"
	" (2,'Grace Hopper','grace@example.com','US','2026-01-19'),"
	" (3,'Alan Turing','alan@example.com','GB','2026-02-02'),"
	" (4,'Katherine Johnson','katherine@example.com','US','2026-02-14'),"
	" (5,'Tu Youyou','youyou@example.com','CN','2026-03-01'),"
	" (6,'Emmy Noether','emmy@example.com','DE','2026-03-22');"
	"CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL, category TEXT, price REAL);"
	"INSERT INTO products VALUES"
	" (1,'Keyboard','hardware',49.9),(2,'Monitor','hardware',219.0),(3,'Broker licence','software',0.0),"
	" (4,'Support plan','service',99.0),(5,'Mouse','hardware',19.5);"
	"CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id),"
	" product_id INTEGER REFERENCES products(id), quantity INTEGER, ordered_at TEXT);"
	"INSERT INTO orders VALUES"
	" (1,1,1,2,'2026-03-02'),(2,2,2,1,'2026-03-05'),(3,2,4,1,'2026-03-05'),(4,3,5,3,'2026-03-11'),"
	" (5,4,2,2,'2026-03-20'),(6,5,3,10,'2026-04-01'),(7,6,1,1,'2026-04-03'),(8,1,4,1,'2026-04-09');";

static const char analytics_sql[] =
	"CREATE TABLE daily_metrics (day TEXT PRIMARY KEY, visits INTEGER, signups INTEGER, revenue REAL);"
	"INSERT INTO daily_metrics VALUES"
	" ('2026-04-01',1200,31,2150.0),('2026-04-02',1340,29,1980.5),('2026-04-03',980,17,1204.0),"
	" ('2026-04-04',1510,42,3020.25),('2026-04-05',1620,38,2875.0);";

static bool has_databases(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return false;
	bool found = false;
	for (struct dirent *e; !found && (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		found = len > 3 && strcmp(e->d_name + len - 3, ".db") == 0;
	}
	closedir(d);
	return found;
}

static int create(const char *dir, const char *name, const char *sql)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.db", dir, name);
	sqlite3 *db = NULL;
	char *err = NULL;
	int rc = sqlite3_open(path, &db) == SQLITE_OK &&
	                 sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK
	                 ? 0
	                 : -1;
	if (rc < 0)
		fprintf(stderr, "agentbus-sqlite-mcp: cannot create %s: %s\n", path,
		        err ? err : sqlite3_errmsg(db));
	sqlite3_free(err);
	sqlite3_close(db);
	return rc;
}

int demo_create_if_empty(const char *dir)
{
	if (has_databases(dir))
		return 0;
	fprintf(stderr, "agentbus-sqlite-mcp: creating the demo databases in %s\n", dir);
	return create(dir, "demo", demo_sql) < 0 || create(dir, "analytics", analytics_sql) < 0 ? -1 : 0;
}
