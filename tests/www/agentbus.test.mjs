// Unit tests of www/agentbus.js with Node's test runner: URL resolution,
// agent id rules, backoff, and the resume bookkeeping across a reconnect,
// over a scripted WebSocket (the browser tests drive the real one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const { resolveUrl, agentId, sessionId, backoff, AgentbusClient, AgentbusError } =
  await import(path.join(here, '..', '..', 'www', 'agentbus.js'));

class MemoryStorage {
  constructor() { this.items = new Map(); }
  getItem(k) { return this.items.has(k) ? this.items.get(k) : null; }
  setItem(k, v) { this.items.set(k, String(v)); }
}

const page = { protocol: 'http:', host: 'broker.example:8080' };

test('an explicit URL wins, with http(s) turned into ws(s)', () => {
  assert.equal(resolveUrl({ url: 'https://a.example/ws', config: { WS_URL: 'ws://b/ws' }, location: page }),
               'wss://a.example/ws');
});

test('then WS_URL, BACKEND_URL, API_URL in that order; a bare origin gets /ws', () => {
  const warn = () => assert.fail('no warning when configured');
  assert.equal(resolveUrl({ config: { WS_URL: 'ws://w/ws/query/u1', BACKEND_URL: 'http://b' }, location: page, warn }),
               'ws://w/ws/query/u1');
  assert.equal(resolveUrl({ config: { BACKEND_URL: 'http://b:8000', API_URL: 'http://a' }, location: page, warn }),
               'ws://b:8000/ws');
  assert.equal(resolveUrl({ config: { API_URL: 'https://api.example/' }, location: page, warn }),
               'wss://api.example/ws');
});

test('nothing configured: this origin at /ws, with a warning that names it', () => {
  const warnings = [];
  assert.equal(resolveUrl({ config: {}, location: page, warn: (w) => warnings.push(w) }),
               'ws://broker.example:8080/ws');
  assert.equal(resolveUrl({ config: {}, location: { protocol: 'https:', host: 'h' }, warn: () => {} }), 'wss://h/ws');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /ws:\/\/broker\.example:8080\/ws/);
});

test('the agent id follows the protocol rules and is kept for the tab', () => {
  const storage = new MemoryStorage();
  const id = agentId({ userId: 'u 1/é', storage, now: () => 1732550450000, random: () => 0.5 });
  assert.match(id, /^frontend_u_1___session_1732550450_[a-z0-9]{9}$/);
  assert.match(id, /^[A-Za-z0-9_.:-]{1,128}$/);
  assert.equal(agentId({ userId: 'u 1/é', storage }), id, 'the same tab and user keep their id');
  const other = agentId({ userId: 'bob', storage });
  assert.match(other, /^frontend_bob_session_/, 'another user gets an id of their own');
  storage.setItem('agentbus.agent_id', 'bad id!');
  assert.notEqual(agentId({ userId: 'u', storage }), 'bad id!', 'a stored id that breaks the rules is replaced');
  assert.ok(agentId({ userId: 'x'.repeat(500), storage: new MemoryStorage() }).length <= 128);
  const s = new MemoryStorage();
  assert.equal(sessionId({ storage: s }), sessionId({ storage: s }));
});

test('backoff grows exponentially to its ceiling, with jitter in its upper half', () => {
  assert.equal(backoff(0, { random: () => 0 }), 250);
  assert.equal(backoff(0, { random: () => 1 }), 500);
  assert.equal(backoff(3, { random: () => 1 }), 4000);
  assert.equal(backoff(40, { random: () => 1 }), 30000);
  assert.equal(backoff(40, { random: () => 0 }), 15000);
  for (let i = 0; i < 100; i++) {
    const d = backoff(5);
    assert.ok(d >= 8000 && d <= 16000, String(d));
  }
});

// A WebSocket the test scripts: it records what the client sends, and the
// test plays the broker.
class ScriptedSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 1; // OPEN: the scripts begin talking at once
    this.sent = [];
    ScriptedSocket.all.push(this);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close(code = 1000) { this.readyState = 3; this.onclose?.({ code }); }
  deliver(msg) { this.onmessage({ data: JSON.stringify(msg) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose({ code }); }
}

function client(extra = {}) {
  ScriptedSocket.all = [];
  const timers = [];
  const bus = new AgentbusClient({
    url: 'ws://broker/ws', userId: 'u1', WebSocket: ScriptedSocket, storage: new MemoryStorage(),
    random: () => 0, setTimer: (fn, ms) => { timers.push({ fn, ms }); return timers.length; },
    clearTimer: () => {}, ...extra,
  });
  return { bus, timers };
}

function open(bus, ack = {}) {
  bus.connect();
  const ws = ScriptedSocket.all.at(-1);
  ws.deliver({ type: 'connection_established', connection_id: 'c', protocol_version: 1 });
  const handshake = ws.sent.at(-1);
  ws.deliver({ type: 'connection_acknowledged', agent_id: handshake.agent_id, session_established: true,
               session_resumed: false, heartbeat_interval: 30, seq: 1, ...ack });
  return { ws, handshake };
}

test('handshake: agent id, capabilities, and no resume on the first connection', () => {
  const { bus } = client();
  const { handshake } = open(bus);
  assert.equal(handshake.type, 'connection_handshake');
  assert.equal(handshake.agent_id, bus.agentId);
  assert.deepEqual(handshake.capabilities, ['query_processing', 'real_time_updates', 'heartbeat']);
  assert.equal(handshake.resume, undefined);
  assert.equal(bus.state, 'open');
  bus.close();
});

test('a request resolves with its final reply; interim ones go to onProgress', async () => {
  const { bus } = client();
  const { ws } = open(bus);
  const progress = [];
  const answer = bus.request('query', { query: 'SELECT 1' }, { onProgress: (m) => progress.push(m.type) });
  const sent = ws.sent.at(-1);
  assert.equal(sent.type, 'query');
  ws.deliver({ type: 'query_processing_started', correlation_id: sent.correlation_id, seq: 2 });
  ws.deliver({ type: 'query_response', correlation_id: sent.correlation_id, seq: 3, response: { data: [1] } });
  assert.deepEqual((await answer).response.data, [1]);
  assert.deepEqual(progress, ['query_processing_started']);
  bus.close();
});

test('an error reply rejects with its error_type and message', async () => {
  const { bus } = client();
  const { ws } = open(bus);
  const answer = bus.request('query', { query: 'bad' });
  const cid = ws.sent.at(-1).correlation_id;
  ws.deliver({ type: 'query_error', correlation_id: cid, seq: 2,
               error: { error_type: 'tool_error', message: 'no such table: x' } });
  await assert.rejects(answer, (e) => e instanceof AgentbusError && e.errorType === 'tool_error' &&
                                       e.message === 'no such table: x');
  bus.close();
});

test('a request with no reply in time rejects with timeout, and the broker is told to stop', async () => {
  const { bus, timers } = client();
  const { ws } = open(bus);
  const answer = bus.request('query', { query: 'x', correlation_id: 't1' }, { timeoutMs: 50 });
  timers.find((t) => t.ms === 50).fn();
  await assert.rejects(answer, (e) => e.errorType === 'timeout');
  assert.deepEqual(ws.sent.at(-1), { type: 'cancel', correlation_id: 't1' });
  bus.close();
});

test('a request that times out while waiting to be sent is never sent', async () => {
  const { bus, timers } = client();
  const { ws } = open(bus);
  ws.drop(1006);
  const answer = bus.request('query', { query: 'x', correlation_id: 'late' }, { timeoutMs: 40 });
  timers.find((t) => t.ms === 40).fn();
  await assert.rejects(answer, (e) => e.errorType === 'timeout');
  timers.find((t) => t.ms === 250).fn(); // reconnect
  const ws2 = ScriptedSocket.all.at(-1);
  ws2.deliver({ type: 'connection_established', connection_id: 'c2', protocol_version: 1 });
  ws2.deliver({ type: 'connection_acknowledged', session_resumed: true, seq: 2 });
  assert.ok(!ws2.sent.some((m) => m.correlation_id === 'late'), JSON.stringify(ws2.sent));
  bus.close();
});

test('heartbeats go at the interval the broker announces; backoff starts over after an ack', () => {
  const { bus, timers } = client();
  const { ws } = open(bus, { heartbeat_interval: 7 });
  const beat = timers.filter((t) => t.ms === 7000).at(-1);
  assert.ok(beat, 'a heartbeat timer at 7 s');
  beat.fn();
  assert.equal(ws.sent.at(-1).type, 'heartbeat');
  ws.drop(1006);
  assert.equal(timers.at(-1).ms, 250);
  timers.at(-1).fn();
  const ws2 = ScriptedSocket.all.at(-1);
  ws2.drop(1006); // failed again before any ack: the wait grows
  assert.equal(timers.at(-1).ms, 500);
  timers.at(-1).fn();
  const ws3 = ScriptedSocket.all.at(-1);
  ws3.deliver({ type: 'connection_established', connection_id: 'c3', protocol_version: 1 });
  ws3.deliver({ type: 'connection_acknowledged', session_resumed: true, seq: 3, heartbeat_interval: 7 });
  ws3.drop(1006);
  assert.equal(timers.at(-1).ms, 250, 'a connection that worked resets the backoff');
  bus.close();
});

test('a connection silent through two heartbeats is closed with 4000 and reconnected', () => {
  const { bus, timers } = client();
  const { ws } = open(bus, { heartbeat_interval: 5 });
  const closes = [];
  const close = ws.close.bind(ws);
  ws.close = (code, reason) => { closes.push(code); close(code, reason); };
  const beats = () => timers.filter((t) => t.ms === 5000);
  beats().at(-1).fn(); // first beat sent
  ws.deliver({ type: 'heartbeat_response', correlation_id: 'hb', seq: 2 }); // heard: the count starts over
  beats().at(-1).fn();
  beats().at(-1).fn(); // two beats unanswered
  assert.deepEqual(closes, []);
  beats().at(-1).fn(); // nothing heard for two intervals
  assert.deepEqual(closes, [4000]);
  assert.equal(bus.state, 'reconnecting');
  bus.close();
});

test('a token goes in the handshake (browsers cannot set headers)', () => {
  const { bus } = client({ token: 'jwt-abc' });
  const { handshake } = open(bus);
  assert.equal(handshake.token, 'jwt-abc');
  bus.close();
});

test('after a drop it reconnects with backoff, resumes from the last seq, and a replayed reply settles its request once', async () => {
  const { bus, timers } = client();
  const { ws } = open(bus);
  const answer = bus.request('query', { query: 'SELECT 1' });
  const cid = ws.sent.at(-1).correlation_id;
  ws.deliver({ type: 'heartbeat_response', correlation_id: 'other', seq: 2 });
  ws.drop(1006);
  assert.equal(bus.state, 'reconnecting');
  const retry = timers.at(-1);
  assert.equal(retry.ms, 250, 'the first retry waits backoff(0)');
  // Sent while away: queued, not lost.
  const later = bus.request('get_databases', {});
  retry.fn();
  const ws2 = ScriptedSocket.all.at(-1);
  assert.notEqual(ws2, ws);
  ws2.deliver({ type: 'connection_established', connection_id: 'c2', protocol_version: 1 });
  const handshake = ws2.sent.at(-1);
  assert.equal(handshake.agent_id, bus.agentId, 'the same session');
  assert.deepEqual(handshake.resume, { last_seq: 2 });
  // The broker replays what the client missed, then acknowledges; a
  // message seen before (seq 2, and seq 3 twice) is dropped, not dispatched.
  const strays = [];
  bus.addEventListener('message', (e) => strays.push(e.detail));
  ws2.deliver({ type: 'heartbeat_response', correlation_id: 'other', seq: 2 });
  ws2.deliver({ type: 'query_response', correlation_id: cid, seq: 3, response: { data: ['replayed'] } });
  ws2.deliver({ type: 'query_response', correlation_id: cid, seq: 3, response: { data: ['twice'] } });
  assert.deepEqual(ws2.sent.map((m) => m.type), ['connection_handshake'], 'nothing but the handshake before the ack');
  ws2.deliver({ type: 'connection_acknowledged', session_resumed: true, seq: 4, heartbeat_interval: 30 });
  assert.deepEqual((await answer).response.data, ['replayed']);
  assert.deepEqual(strays, [], 'no duplicate reached anyone');
  assert.equal(bus.lastSeq, 4);
  const queued = ws2.sent.find((m) => m.type === 'get_databases');
  assert.ok(queued, 'the request made while away went out after the ack');
  ws2.deliver({ type: 'databases_response', correlation_id: queued.correlation_id, seq: 5, databases: [] });
  assert.deepEqual((await later).databases, []);
  bus.close();
});

test('a broker that lost the session says so: waiting requests fail, seq starts again', async () => {
  const { bus, timers } = client();
  const { ws } = open(bus);
  const answer = bus.request('query', { query: 'SELECT 1' });
  ws.deliver({ type: 'heartbeat_response', correlation_id: 'x', seq: 9 });
  ws.drop(1001);
  const madeWhileAway = bus.request('get_databases', { correlation_id: 'away' });
  // A listener that asks at once when the session is back (the console does).
  let askedOnOpen = null;
  bus.addEventListener('state', (e) => {
    if (e.detail.state === 'open' && !askedOnOpen) askedOnOpen = bus.request('list_tools', { correlation_id: 'on-open' });
  });
  timers.find((t) => t.ms === 250).fn(); // the reconnect
  const ws2 = ScriptedSocket.all.at(-1);
  ws2.deliver({ type: 'connection_established', connection_id: 'c2', protocol_version: 1 });
  assert.deepEqual(ws2.sent.at(-1).resume, { last_seq: 9 });
  ws2.deliver({ type: 'connection_acknowledged', session_resumed: false, messages_lost: true, seq: 1 });
  await assert.rejects(answer, (e) => e.errorType === 'upstream_unavailable');
  assert.equal(bus.messagesLost, true);
  // What was never sent, and what is asked now, are not lost: they go out.
  for (const cid of ['away', 'on-open'])
    ws2.deliver({ type: 'x_response', correlation_id: cid, seq: cid === 'away' ? 2 : 3 });
  assert.equal((await madeWhileAway).correlation_id, 'away');
  assert.equal((await askedOnOpen).correlation_id, 'on-open');
  assert.equal(bus.lastSeq, 3);
  assert.equal(bus.messagesLost, true);
  // New messages count from the new session's seq, not dropped as old.
  const next = bus.request('get_databases', {});
  ws2.deliver({ type: 'databases_response', correlation_id: ws2.sent.at(-1).correlation_id, seq: 4, databases: [] });
  assert.deepEqual((await next).databases, []);
  bus.close();
});

test('taken over (4002) or refused (1008): no reconnect loop', () => {
  for (const code of [4002, 1008]) {
    const { bus, timers } = client();
    const { ws } = open(bus);
    const before = timers.length;
    ws.drop(code);
    assert.equal(bus.state, 'closed');
    assert.equal(timers.length, before, 'no retry scheduled');
  }
});

test('cancel sends the protocol cancel; a request not yet sent just ends', async () => {
  const { bus } = client();
  const { ws } = open(bus);
  bus.request('query', { query: 'slow', correlation_id: 'q9' }).catch(() => {});
  bus.cancel('q9');
  assert.deepEqual(ws.sent.at(-1), { type: 'cancel', correlation_id: 'q9' });
  ws.drop(1006);
  const queued = bus.request('query', { query: 'slow', correlation_id: 'q10' });
  bus.cancel('q10');
  await assert.rejects(queued, (e) => e.errorType === 'cancelled');
  bus.close();
});
