# Tests: Check unit suites (one per core module), fixture plugins, and
# integration scripts that drive the real daemon on 127.0.0.1.

# ---- fixture plugins: a test transport, a test translator, and plugins
# broken on purpose for the loader to refuse.
FIXTURE_FLAGS = $(MODULE_FLAGS) -rpath /nowhere
FIXTURE_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS) $(LIBEVENT_CFLAGS)
check_LTLIBRARIES += tests/fixtures/plugins/linetap.la \
	tests/fixtures/plugins/rename.la \
	tests/fixtures/plugins/abi_major.la \
	tests/fixtures/plugins/abi_minor.la \
	tests/fixtures/plugins/missing_op.la \
	tests/fixtures/plugins/no_symbol.la
tests_fixtures_plugins_linetap_la_SOURCES = tests/fixtures/plugins/linetap.c
tests_fixtures_plugins_linetap_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_plugins_linetap_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_fixtures_plugins_linetap_la_LIBADD = $(LIBEVENT_LIBS)
tests_fixtures_plugins_rename_la_SOURCES = tests/fixtures/plugins/rename.c
tests_fixtures_plugins_rename_la_CFLAGS = $(FIXTURE_CFLAGS)
tests_fixtures_plugins_rename_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_fixtures_plugins_rename_la_LIBADD = $(YAJL_LIBS)
tests_fixtures_plugins_abi_major_la_SOURCES = tests/fixtures/plugins/broken.c
tests_fixtures_plugins_abi_major_la_CFLAGS = $(FIXTURE_CFLAGS) -DBROKEN_ABI_MAJOR
tests_fixtures_plugins_abi_major_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_fixtures_plugins_abi_minor_la_SOURCES = tests/fixtures/plugins/broken.c
tests_fixtures_plugins_abi_minor_la_CFLAGS = $(FIXTURE_CFLAGS) -DBROKEN_ABI_MINOR
tests_fixtures_plugins_abi_minor_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_fixtures_plugins_missing_op_la_SOURCES = tests/fixtures/plugins/broken.c
tests_fixtures_plugins_missing_op_la_CFLAGS = $(FIXTURE_CFLAGS) -DBROKEN_MISSING_OP
tests_fixtures_plugins_missing_op_la_LDFLAGS = $(FIXTURE_FLAGS)
tests_fixtures_plugins_no_symbol_la_SOURCES = tests/fixtures/plugins/broken.c
tests_fixtures_plugins_no_symbol_la_CFLAGS = $(FIXTURE_CFLAGS) -DBROKEN_NO_SYMBOL
tests_fixtures_plugins_no_symbol_la_LDFLAGS = $(FIXTURE_FLAGS)

# ---- unit suites: each links the core library the daemon runs.
if HAVE_CHECK
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(LIBEVENT_CFLAGS) $(YAJL_CFLAGS) \
	-DFIXTURE_PLUGIN_DIR=\"$(abs_top_builddir)/tests/fixtures/plugins/.libs\" \
	-DFIXTURE_DIR=\"$(abs_top_srcdir)/tests/fixtures\"
UNIT_LIBS = core/libagentbus-core.la $(CHECK_LIBS)
UNIT_MAIN = tests/unit/unit_main.c tests/unit/unit_suite.h
UNIT_SUITES = tests/unit/test_config tests/unit/test_options tests/unit/test_msg \
	tests/unit/test_containers tests/unit/test_routes tests/unit/test_router \
	tests/unit/test_loader tests/unit/test_services \
	tests/unit/test_utf8 tests/unit/test_ws_codec tests/unit/test_http_parse tests/unit/test_http_access tests/unit/test_sse tests/unit/test_legacy tests/unit/test_rpc_id \
	tests/unit/test_replay tests/unit/test_stamp tests/unit/test_ip_counts \
	tests/unit/test_jsontree tests/unit/test_jsonparse tests/unit/test_sections \
	tests/unit/test_write_batch tests/unit/test_loop tests/unit/test_json
check_PROGRAMS += $(UNIT_SUITES)
TESTS += $(UNIT_SUITES)
tests_unit_test_config_SOURCES = tests/unit/test_config.c $(UNIT_MAIN)
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_LDADD = $(UNIT_LIBS)
tests_unit_test_options_SOURCES = tests/unit/test_options.c $(UNIT_MAIN)
tests_unit_test_options_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_options_LDADD = $(UNIT_LIBS)
tests_unit_test_msg_SOURCES = tests/unit/test_msg.c $(UNIT_MAIN)
tests_unit_test_msg_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_msg_LDADD = $(UNIT_LIBS)
tests_unit_test_containers_SOURCES = tests/unit/test_containers.c $(UNIT_MAIN)
tests_unit_test_containers_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_containers_LDADD = $(UNIT_LIBS)
tests_unit_test_routes_SOURCES = tests/unit/test_routes.c $(UNIT_MAIN)
tests_unit_test_routes_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_routes_LDADD = $(UNIT_LIBS)
tests_unit_test_router_SOURCES = tests/unit/test_router.c $(UNIT_MAIN) tests/unit/fake_transport.c \
	tests/unit/fake_transport.h
tests_unit_test_router_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_router_LDADD = $(UNIT_LIBS)
tests_unit_test_loader_SOURCES = tests/unit/test_loader.c $(UNIT_MAIN)
tests_unit_test_loader_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_loader_LDADD = $(UNIT_LIBS)
tests_unit_test_jsontree_SOURCES = tests/unit/test_jsontree.c $(UNIT_MAIN)
tests_unit_test_jsontree_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_jsontree_LDADD = $(UNIT_LIBS)
tests_unit_test_jsonparse_SOURCES = tests/unit/test_jsonparse.c $(UNIT_MAIN) tests/unit/tree_equal.c \
	tests/unit/tree_equal.h
tests_unit_test_jsonparse_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_jsonparse_LDADD = $(UNIT_LIBS)
tests_unit_test_sections_SOURCES = tests/unit/test_sections.c $(UNIT_MAIN)
tests_unit_test_sections_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_sections_LDADD = $(UNIT_LIBS)
tests_unit_test_json_SOURCES = tests/unit/test_json.c $(UNIT_MAIN)
tests_unit_test_json_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_json_LDADD = $(UNIT_LIBS)
tests_unit_test_write_batch_SOURCES = tests/unit/test_write_batch.c $(UNIT_MAIN)
tests_unit_test_write_batch_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_write_batch_LDADD = $(UNIT_LIBS)
tests_unit_test_loop_SOURCES = tests/unit/test_loop.c $(UNIT_MAIN)
tests_unit_test_loop_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_loop_LDADD = $(UNIT_LIBS)
# The WebSocket transport's codecs.
WS_UNIT_LIBS = plugins/websocket/libwscodec.la $(CHECK_LIBS)
tests_unit_test_utf8_SOURCES = tests/unit/test_utf8.c $(UNIT_MAIN)
tests_unit_test_utf8_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_utf8_LDADD = $(WS_UNIT_LIBS)
tests_unit_test_ws_codec_SOURCES = tests/unit/test_ws_codec.c $(UNIT_MAIN)
tests_unit_test_ws_codec_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ws_codec_LDADD = $(WS_UNIT_LIBS)
tests_unit_test_ws_codec_LDFLAGS = $(AM_LDFLAGS) -Wl,--wrap=realloc
tests_unit_test_http_parse_SOURCES = tests/unit/test_http_parse.c $(UNIT_MAIN)
tests_unit_test_http_parse_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_http_parse_LDADD = $(WS_UNIT_LIBS)
tests_unit_test_http_access_SOURCES = tests/unit/test_http_access.c $(UNIT_MAIN)
tests_unit_test_http_access_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_http_access_LDADD = $(WS_UNIT_LIBS)
tests_unit_test_rpc_id_SOURCES = tests/unit/test_rpc_id.c $(UNIT_MAIN)
tests_unit_test_rpc_id_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_rpc_id_LDADD = $(WS_UNIT_LIBS)
tests_unit_test_replay_SOURCES = tests/unit/test_replay.c $(UNIT_MAIN)
tests_unit_test_replay_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_replay_LDADD = $(WS_UNIT_LIBS)
tests_unit_test_stamp_SOURCES = tests/unit/test_stamp.c $(UNIT_MAIN) tests/unit/tree_equal.c \
	tests/unit/tree_equal.h
tests_unit_test_stamp_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_stamp_LDADD = $(WS_UNIT_LIBS)
tests_unit_test_ip_counts_SOURCES = tests/unit/test_ip_counts.c $(UNIT_MAIN)
tests_unit_test_ip_counts_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_ip_counts_LDADD = $(WS_UNIT_LIBS)
tests_unit_test_sse_SOURCES = tests/unit/test_sse.c plugins/mcp/sse.c $(UNIT_MAIN)
tests_unit_test_sse_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_sse_LDADD = $(CHECK_LIBS)
tests_unit_test_legacy_SOURCES = tests/unit/test_legacy.c plugins/mcp/legacy.c $(UNIT_MAIN)
tests_unit_test_legacy_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_legacy_LDADD = $(UNIT_LIBS)
tests_unit_test_services_SOURCES = tests/unit/test_services.c $(UNIT_MAIN)
tests_unit_test_services_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_services_LDADD = $(UNIT_LIBS)
endif

# ---- integration: the real daemon, driven from Python (stdlib only).
TEST_EXTENSIONS = .py .mjs
PY_LOG_COMPILER = $(PYTHON)
MJS_LOG_COMPILER = node
AM_TESTS_ENVIRONMENT = \
	AGENTBUSD='$(abs_top_builddir)/core/agentbusd'; \
	FIXTURE_PLUGIN_DIR='$(abs_top_builddir)/tests/fixtures/plugins/.libs'; \
	TOP_SRCDIR='$(abs_top_srcdir)'; TOP_BUILDDIR='$(abs_top_builddir)'; \
	MAKE='$(MAKE)'; \
	PYTHONPATH='$(abs_top_srcdir)/tests/integration'; \
	export AGENTBUSD FIXTURE_PLUGIN_DIR TOP_SRCDIR TOP_BUILDDIR MAKE PYTHONPATH;
INTEGRATION_TESTS = tests/integration/test_daemon.py tests/integration/test_sdk.py \
	tests/integration/test_websocket.py tests/integration/test_websocket_auth.py \
	tests/integration/test_node_ws.py tests/integration/test_sqlite_mcp.py \
	tests/integration/test_websocket_robustness.py tests/integration/test_mcp_stdio.py \
	tests/integration/test_mcp_http.py tests/integration/test_mcp_ws.py tests/integration/test_jsonrpc_passthrough.py tests/integration/test_mariadb.py \
	tests/integration/test_mcp_conformance.py tests/integration/test_mcp_isolated.py \
	tests/integration/test_end_to_end.py tests/integration/test_http_api.py \
	tests/integration/test_console.py tests/www/agentbus.test.mjs \
	tests/integration/test_ws_conformance.py
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/agentbus_test.py tests/fixtures/paging_mcp_server.py tests/fixtures/legacy_ws_mcp_server.py \
	tests/conformance/agentbus_client.py tests/conformance/expected-failures.yml \
	tests/peers/package.json tests/peers/package-lock.json tests/peers/ws_client.mjs \
	tests/peers/ws_driver.mjs tests/peers/fetch_client.mjs tests/peers/console_browser.mjs tests/peers/tls_proxy.mjs
