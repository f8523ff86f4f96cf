# The benchmark suite's own programs (not installed): the load generator
# and the upstream it is measured against (docs/benchmarks.md).
noinst_PROGRAMS = bench/loadgen bench/mcp_echo
bench_loadgen_SOURCES = bench/loadgen.c
bench_loadgen_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(OPENSSL_CFLAGS)
bench_loadgen_LDADD = plugins/websocket/libwscodec.la $(LIBEVENT_LIBS) $(OPENSSL_LIBS)
bench_mcp_echo_SOURCES = bench/mcp_echo.c core/jsonparse.c core/jsonparse.h core/jsontree.c core/jsontree.h
bench_mcp_echo_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS)
bench_mcp_echo_LDADD = $(YAJL_LIBS)
EXTRA_DIST += bench/agentbus-bench.ini bench/run.py
EXTRA_DIST += bench/relays/python_relay.py bench/relays/node_relay.mjs
# The crowd: a transport that registers many agents, for bench/run.py --scale.
noinst_LTLIBRARIES += bench/crowd/crowd.la
bench_crowd_crowd_la_SOURCES = bench/crowd/crowd.c
bench_crowd_crowd_la_CFLAGS = $(AM_CFLAGS)
bench_crowd_crowd_la_LDFLAGS = $(MODULE_FLAGS) -rpath /nowhere
