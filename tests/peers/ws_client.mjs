// A frontend on Node's `ws` package: prints one JSON line per step so the
// Python test can check what this real client saw.
//   node ws_client.mjs ws://127.0.0.1:PORT/ws
import WebSocket from 'ws';

const url = process.argv[2];
const say = (step, data) => console.log(JSON.stringify({ step, ...data }));

// Messages are queued from the start: 'open' and the greeting can arrive in
// one read, before an await after 'open' could listen.
const inbox = [];
const waiting = [];
function next() {
  return inbox.length ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiting.push(resolve));
}

const ws = new WebSocket(url);
ws.on('message', (data) => {
  const msg = JSON.parse(data);
  if (waiting.length) waiting.shift()(msg); else inbox.push(msg);
});
ws.on('error', (e) => { say('error', { message: String(e) }); process.exit(1); });
await new Promise((resolve) => ws.once('open', resolve));
say('hello', await next());

ws.send(JSON.stringify({ type: 'connection_handshake', correlation_id: 'n1', user_id: 'node',
                         capabilities: ['real_time_updates', 'heartbeat'] }));
say('ack', await next());

// One message in three fragments, with pings in between.
const text = JSON.stringify({ type: 'heartbeat', correlation_id: 'frag', pad: 'ü'.repeat(1000) });
const bytes = Buffer.from(text);
const pongs = [];
ws.on('pong', (data) => pongs.push(data.toString()));
ws.send(bytes.subarray(0, 700), { binary: false, fin: false });
ws.ping('p1');
ws.send(bytes.subarray(700, 1401), { binary: false, fin: false }); // splits a two-byte character
ws.ping('p2');
ws.send(bytes.subarray(1401), { binary: false, fin: true });
say('fragmented', await next());
say('pongs', { pongs });

// A binary frame: the broker closes with 1003.
const closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
ws.send(Buffer.from([1, 2, 3]), { binary: true });
say('closed', await closed);
