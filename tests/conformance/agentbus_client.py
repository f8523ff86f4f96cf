"""The MCP client under test for the official conformance suite
(@modelcontextprotocol/conformance, `client` mode): agentbusd itself, with
the mcp transport pointed at the suite's server URL (the last argument),
driven through the JSON-RPC passthrough (ws://.../mcp) to do what the
scenario (MCP_CONFORMANCE_SCENARIO) asks. So what the suite checks is the
broker's own MCP client: its initialize, its Streamable HTTP, its SSE
resumption.

Run by tests/integration/test_mcp_conformance.py; needs AGENTBUSD and
TOP_BUILDDIR (as the test suite sets them)."""

import json
import os
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from agentbus_test import TOP_BUILDDIR, Daemon, RawWS, free_port  # noqa: E402

SO = {name: os.path.join(TOP_BUILDDIR, "plugins", name, ".libs", name + ".so")
      for name in ("websocket", "mcp", "jsonrpc_mcp")}

# What each scenario's client does once the broker's session is ready:
# the tool it calls, with which arguments (None: nothing beyond initialize).
CALLS = {
    "initialize": None,
    "tools_call": ("add_numbers", {"a": 2, "b": 3}),
    "sse-retry": ("test_reconnection", {}),
    "elicitation-sep1034-client-defaults": ("test_client_elicitation_defaults", {}),
}


def accept_with_defaults(params):
    """What a user who accepts every default would answer (SEP-1034)."""
    fields = params.get("requestedSchema", {}).get("properties", {})
    return {"action": "accept",
            "content": {name: spec["default"] for name, spec in fields.items() if "default" in spec}}


def main():
    url, scenario = sys.argv[-1], os.environ.get("MCP_CONFORMANCE_SCENARIO", "initialize")
    port = free_port()
    d = Daemon("[plugin:front]\nmodule = %s\nlisten = 127.0.0.1:%d\n"
               "[plugin:upstream]\nmodule = %s\nurl = %s\nagent_type = conformance\nping_interval = 0\n"
               "[plugin:jsonrpc_mcp]\nmodule = %s\n"
               "[route:jsonrpc]\nsource = frontend_rpc_*\ntype = jsonrpc\ndestination = conformance_*\n"
               "translator = jsonrpc_mcp\ninterim = jsonrpc_notification\ntimeout = 20s\n"
               % (SO["websocket"], port, SO["mcp"], url, SO["jsonrpc_mcp"]))
    try:
        d.start(ready=False)
        d.wait_log(r"\[upstream\] ready as conformance_", timeout=20)
        call = CALLS.get(scenario)
        if call:
            ws = RawWS(port, path="/mcp", timeout=20)
            # As an MCP client does: initialize first, saying what it answers.
            ws.send_json({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                          "params": {"protocolVersion": "2025-11-25", "capabilities": {"elicitation": {}},
                                     "clientInfo": {"name": "conformance-driver", "version": "1"}}})
            assert "result" in ws.recv_json(timeout=20)
            ws.send_json({"jsonrpc": "2.0", "method": "notifications/initialized"})
            ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": call[0], "arguments": call[1]}})
            while True:
                msg = ws.recv_json(timeout=20)
                if msg.get("method") == "elicitation/create":  # the server asks, through the broker
                    ws.send_json({"jsonrpc": "2.0", "id": msg["id"], "result": accept_with_defaults(msg["params"])})
                elif "method" not in msg:
                    print(json.dumps(msg))
                    break
            ws.close()
    finally:
        sys.stderr.write(d.log() + "\n")
        d.close()


if __name__ == "__main__":
    main()
