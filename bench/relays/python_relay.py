"""The kind of backend agentbus replaces, for the benchmarks: a Python
relay on `websockets` that speaks the same frontend protocol (greeting,
handshake, `query` -> `query_response`) and forwards each query to the
same MCP server over stdio (one child, JSON-RPC ids mapped to waiting
futures). Only what bench/loadgen's runs need.

    python3 python_relay.py PORT MCP_SERVER_COMMAND..."""

import asyncio
import itertools
import json
import sys

import websockets


class Upstream:
    def __init__(self, proc):
        self.proc, self.ids, self.waiting = proc, itertools.count(1), {}

    async def start(self):
        await self.call("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                       "clientInfo": {"name": "python-relay", "version": "1"}}, reader=True)
        self.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')

    async def read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            msg = json.loads(line)
            future = self.waiting.pop(msg.get("id"), None)
            if future:
                future.set_result(msg)

    async def call(self, method, params, reader=False):
        rid = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.waiting[rid] = future
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
                               + "\n").encode())
        if reader:
            asyncio.ensure_future(self.read())
        return await future


async def main():
    port, command = int(sys.argv[1]), sys.argv[2:]
    proc = await asyncio.create_subprocess_exec(*command, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.PIPE, limit=1 << 24)
    upstream = Upstream(proc)
    await upstream.start()

    async def serve(ws, path=None):
        await ws.send(json.dumps({"type": "connection_established", "connection_id": "py"}))

        async def answer(msg):
            reply = await upstream.call("tools/call", {"name": "echo", "arguments": {"sql": msg.get("query")}})
            rows = reply["result"]["structuredContent"]["result"]
            await ws.send(json.dumps({"type": "query_response", "correlation_id": msg.get("correlation_id"),
                                      "response": {"data": rows, "result": {"data": rows}}}))

        async for text in ws:
            msg = json.loads(text)
            if msg.get("type") == "connection_handshake":
                await ws.send(json.dumps({"type": "connection_acknowledged", "correlation_id": msg.get("correlation_id")}))
            elif msg.get("type") == "query":
                asyncio.ensure_future(answer(msg))

    async with websockets.serve(serve, "127.0.0.1", port, max_size=1 << 24):
        print("listening", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
