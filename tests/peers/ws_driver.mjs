// Node's `ws` package as a remote-controlled frontend, so a Python test can
// drive real clients step by step. One JSON command per stdin line, one
// JSON answer per stdout line:
//   {"op":"open","name":"a","url":"ws://..."}  -> {"ok":true}
//   {"op":"send","name":"a","msg":{...}}        -> {"ok":true}
//   {"op":"recv","name":"a"}                    -> {"msg":{...}} (next message, in order)
//   {"op":"closed","name":"a"}                  -> {"code":4002,"reason":"..."} (once closed)
//   {"op":"cut","name":"a"}                     -> {"ok":true} (TCP cut, no close frame)
import WebSocket from 'ws';
import readline from 'node:readline';

const clients = new Map();

function open(name, url) {
  const c = { ws: new WebSocket(url), inbox: [], waiting: [], closed: null, onClose: [] };
  c.ws.on('message', (data) => {
    const msg = JSON.parse(data);
    if (c.waiting.length) c.waiting.shift()(msg); else c.inbox.push(msg);
  });
  c.ws.on('close', (code, reason) => {
    c.closed = { code, reason: reason.toString() };
    c.onClose.splice(0).forEach((f) => f(c.closed));
  });
  c.ws.on('error', () => {}); // a cut or refused connection shows as its close
  clients.set(name, c);
  return new Promise((resolve, reject) => {
    c.ws.once('open', () => resolve({ ok: true }));
    c.ws.once('unexpected-response', (req, res) => reject(new Error('HTTP ' + res.statusCode)));
    c.ws.once('close', (code) => reject(new Error('closed before it opened: ' + code))); // no-op once open
  });
}

const ops = {
  open: (cmd) => open(cmd.name, cmd.url),
  send: async (cmd) => { clients.get(cmd.name).ws.send(JSON.stringify(cmd.msg)); return { ok: true }; },
  recv: (cmd) => {
    const c = clients.get(cmd.name);
    return c.inbox.length ? Promise.resolve({ msg: c.inbox.shift() })
                          : new Promise((resolve) => c.waiting.push((msg) => resolve({ msg })));
  },
  closed: (cmd) => {
    const c = clients.get(cmd.name);
    return c.closed ? Promise.resolve(c.closed) : new Promise((resolve) => c.onClose.push(resolve));
  },
  cut: async (cmd) => { clients.get(cmd.name).ws.terminate(); return { ok: true }; },
};

// Commands run one after another: each answer is printed before the next starts.
let chain = Promise.resolve();
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  chain = chain.then(() => ops[cmd.op](cmd))
               .catch((e) => ({ error: String(e) }))
               .then((answer) => console.log(JSON.stringify(answer)));
}).on('close', () => chain.then(() => process.exit(0)));
