# The frontend WebSocket transport. Its pure codecs (UTF-8, framing, the
# HTTP request head, the upgrade handshake) form a library of their own, so
# the unit tests and fuzzers link exactly what the plugin runs.
noinst_LTLIBRARIES += plugins/websocket/libwscodec.la
plugins_websocket_libwscodec_la_SOURCES = \
	plugins/websocket/utf8.c plugins/websocket/utf8.h \
	plugins/websocket/ws_codec.c plugins/websocket/ws_codec.h \
	plugins/websocket/http_parse.c plugins/websocket/http_parse.h \
	plugins/websocket/http_access.c plugins/websocket/http_access.h \
	plugins/websocket/ws_handshake.c plugins/websocket/ws_handshake.h \
	plugins/websocket/stamp.c plugins/websocket/stamp.h \
	plugins/websocket/replay.c plugins/websocket/replay.h \
	plugins/websocket/ip_counts.c plugins/websocket/ip_counts.h \
	plugins/websocket/rpc_id.c plugins/websocket/rpc_id.h
plugins_websocket_libwscodec_la_CFLAGS = $(AM_CFLAGS) $(OPENSSL_CFLAGS) $(YAJL_CFLAGS)
plugins_websocket_libwscodec_la_LIBADD = $(OPENSSL_LIBS) $(YAJL_LIBS)

plugin_LTLIBRARIES = plugins/websocket/websocket.la
plugins_websocket_websocket_la_SOURCES = \
	plugins/websocket/websocket.c plugins/websocket/websocket.h \
	plugins/websocket/conn.c plugins/websocket/conn.h \
	plugins/websocket/session.c plugins/websocket/session.h \
	plugins/websocket/rpc_peer.c plugins/websocket/rpc_peer.h \
	plugins/websocket/http_serve.c plugins/websocket/http_serve.h \
	plugins/websocket/http_api.c plugins/websocket/http_api.h \
	plugins/websocket/tls.c plugins/websocket/tls.h \
	plugins/websocket/auth.c plugins/websocket/auth.h
plugins_websocket_websocket_la_CFLAGS = $(AM_CFLAGS) $(LIBEVENT_CFLAGS) $(YAJL_CFLAGS) $(OPENSSL_CFLAGS)
plugins_websocket_websocket_la_LDFLAGS = $(MODULE_FLAGS)
plugins_websocket_websocket_la_LIBADD = plugins/websocket/libwscodec.la $(LIBEVENT_LIBS) $(YAJL_LIBS) \
	$(OPENSSL_LIBS)
