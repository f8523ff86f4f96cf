// The Node relay the benchmarks compare with: `ws` speaking the same
// frontend protocol (greeting, handshake, query -> query_response), each
// query forwarded to the same MCP server over stdio (one child, JSON-RPC
// ids mapped to waiting callbacks). Only what bench/loadgen's runs need.
//   node node_relay.mjs PORT MCP_SERVER_COMMAND...
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { WebSocketServer } from "ws";

const [port, ...command] = process.argv.slice(2);
const child = spawn(command[0], command.slice(1), { stdio: ["pipe", "pipe", "inherit"] });
const waiting = new Map();
let nextId = 1;
createInterface({ input: child.stdout }).on("line", (line) => {
  const msg = JSON.parse(line);
  const done = waiting.get(msg.id);
  if (done) {
    waiting.delete(msg.id);
    done(msg);
  }
});
function call(method, params, done) {
  const id = nextId++;
  waiting.set(id, done);
  child.stdin.write(JSON.stringify({ jsonrpc: "2.0", id, method, params }) + "\n");
}

call("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "node-relay", version: "1" } },
  () => {
    child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n');
    const wss = new WebSocketServer({ host: "127.0.0.1", port: Number(port) });
    wss.on("connection", (ws) => {
      ws.send(JSON.stringify({ type: "connection_established", connection_id: "node" }));
      ws.on("message", (data) => {
        const msg = JSON.parse(data);
        if (msg.type === "connection_handshake") {
          ws.send(JSON.stringify({ type: "connection_acknowledged", correlation_id: msg.correlation_id }));
        } else if (msg.type === "query") {
          call("tools/call", { name: "echo", arguments: { sql: msg.query } }, (reply) => {
            const rows = reply.result.structuredContent.result;
            ws.send(JSON.stringify({ type: "query_response", correlation_id: msg.correlation_id,
                                     response: { data: rows, result: { data: rows } } }));
          });
        }
      });
    });
    wss.on("listening", () => console.log("listening"));
  });
