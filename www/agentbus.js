// agentbus.js: the browser client of the agentbus frontend protocol
// (docs/protocol.md). A dependency-free ES module:
//
//   import { AgentbusClient } from '/agentbus.js';
//   const bus = new AgentbusClient({ userId: 'u1' });
//   bus.addEventListener('state', () => console.log(bus.state));
//   bus.connect();
//   const reply = await bus.request('query', { query: 'SELECT 1', session_id: bus.sessionId },
//                                   { onProgress: (p) => console.log(p) });
//
// It keeps one agent id per browser tab (sessionStorage), so a reload or a
// reconnect is the same session; it reconnects with backoff and jitter and
// resumes with the last seq it saw, so no reply is lost across a reconnect;
// requests are promises settled by the reply with their correlation_id.

const ID_CHARS = /^[A-Za-z0-9_.:-]{1,128}$/;
const STORAGE_KEY = 'agentbus.agent_id';
const SESSION_KEY = 'agentbus.session_id';

/** The WebSocket URL: an explicit one, then the page's configuration
 * (WS_URL, BACKEND_URL, API_URL: http(s) becomes ws(s)), then this page's
 * own origin at /ws, with a warning naming the fallback. */
export function resolveUrl({ url, config = globalThis.AGENTBUS_CONFIG ?? {}, location = globalThis.location,
                             warn = (text) => console.warn(text) } = {}) {
  const toWs = (u) => u.replace(/^http(s?):\/\//i, 'ws$1://');
  if (url) return toWs(url);
  for (const key of ['WS_URL', 'BACKEND_URL', 'API_URL']) {
    const value = config[key];
    if (!value) continue;
    const ws = toWs(value);
    // A bare backend origin means the broker's canonical path.
    return /^wss?:\/\/[^/]+\/?$/i.test(ws) ? ws.replace(/\/?$/, '/ws') : ws;
  }
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const fallback = `${scheme}//${location.host}/ws`;
  warn(`agentbus: no WS_URL, BACKEND_URL or API_URL configured; using ${fallback}`);
  return fallback;
}

// crypto's randomness where there is one (the agent id is the session's
// key when auth is off); the tests pass their own.
const defaultRandom = () => (globalThis.crypto?.getRandomValues
  ? globalThis.crypto.getRandomValues(new Uint32Array(1))[0] / 2 ** 32 : Math.random());

function randomPart(random) {
  let text = '';
  for (let i = 0; i < 9; i++) text += Math.floor(random() * 36).toString(36);
  return text;
}

/** This tab's agent id, frontend_{user}_{session}: made once, then kept in
 * storage so a reload or a reconnect is the same session. */
export function agentId({ userId = 'anonymous', storage = globalThis.sessionStorage, random = defaultRandom,
                          now = () => Date.now() } = {}) {
  const user = String(userId).replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64) || 'anonymous';
  const kept = storage?.getItem(STORAGE_KEY);
  // Kept for the same user only: with auth on, another user's id is refused.
  if (kept && ID_CHARS.test(kept) && kept.startsWith(`frontend_${user}_`)) return kept;
  const id = `frontend_${user}_session_${Math.floor(now() / 1000)}_${randomPart(random)}`;
  storage?.setItem(STORAGE_KEY, id);
  return id;
}

/** This tab's session_id for session state (the selected database). */
export function sessionId({ storage = globalThis.sessionStorage, random = defaultRandom } = {}) {
  const kept = storage?.getItem(SESSION_KEY);
  if (kept && ID_CHARS.test(kept)) return kept;
  const id = `session_${randomPart(random)}${randomPart(random)}`;
  storage?.setItem(SESSION_KEY, id);
  return id;
}

/** The wait before reconnect attempt n (0, 1, ...): exponential from
 * base to max, with jitter over its upper half, so clients that lost the
 * broker together do not come back together. */
export function backoff(attempt, { base = 500, max = 30000, random = Math.random } = {}) {
  const ceiling = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** An error reply, or a request that could not be answered. */
export class AgentbusError extends Error {
  constructor(errorType, message, reply = null) {
    super(message);
    this.name = 'AgentbusError';
    this.errorType = errorType;
    this.reply = reply;
  }
}

const isErrorReply = (msg) => msg && typeof msg.error === 'object' && msg.error !== null &&
  typeof msg.error.error_type === 'string';

// Replies that are not the final one (docs/protocol.md, interim replies).
const INTERIM = new Set(['query_processing_started', 'query_progress']);

// Close codes after which reconnecting would only repeat the refusal.
const FINAL_CLOSES = new Set([1008, 4002]);

export class AgentbusClient extends EventTarget {
  // timeoutMs: past the default route deadlines (60 s), so the broker's
  // own timeout error comes first.
  constructor({ url, userId = 'anonymous', token, WebSocket = globalThis.WebSocket,
                storage = globalThis.sessionStorage, timeoutMs = 65000, random = defaultRandom,
                setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (timer) => clearTimeout(timer),
                config, location, warn } = {}) {
    super();
    this._token = token;
    this.url = resolveUrl({ url, config, location, warn });
    this.userId = userId;
    this.agentId = agentId({ userId, storage, random });
    this.sessionId = sessionId({ storage, random });
    this.state = 'idle'; // idle, connecting, open, reconnecting, closed
    this.lastSeq = 0;    // the highest seq seen: resume from it
    this.heartbeatInterval = 30;
    this.messagesLost = false;
    this._WebSocket = WebSocket;
    this._timeoutMs = timeoutMs;
    this._random = random;
    this._setTimer = setTimer;
    this._clearTimer = clearTimer;
    // correlation_id -> { resolve, reject, onProgress, timer, sentOn }: sentOn is
    // the connection (a count) it went out on, null while in the outbox.
    this._pending = new Map();
    this._outbox = []; // messages waiting for the session
    this._connection = 0;
    this._attempt = 0;
    this._next = 0;
    this._ws = null;
    this._heartbeat = null;
    this._reconnect = null;
  }

  _setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(Object.assign(new Event('state'), { detail: { state, ...detail } }));
  }

  connect() {
    if (this._ws || this._stopped) return;
    this._setState(this._attempt ? 'reconnecting' : 'connecting');
    const ws = new this._WebSocket(this.url);
    this._ws = ws;
    ws.onmessage = (event) => this._onMessage(event.data);
    ws.onclose = (event) => this._onClose(event.code);
    ws.onerror = () => {}; // a close follows
  }

  close() {
    this._stopped = true;
    this._clearTimer(this._reconnect);
    this._stopHeartbeat();
    if (this._ws) this._ws.close(1000);
    this._outbox = [];
    this._failAll('cancelled', 'the client was closed');
    this._setState('closed');
  }

  /** Send a request; resolves with its final reply, rejects with an
   * AgentbusError for an error reply or a timeout. */
  request(type, fields = {}, { timeoutMs = this._timeoutMs, onProgress } = {}) {
    const correlationId = fields.correlation_id ?? `c${Date.now().toString(36)}_${++this._next}`;
    const message = { ...fields, type, correlation_id: correlationId };
    if (this.state === 'closed') return Promise.reject(new AgentbusError('cancelled', 'the client is closed'));
    return new Promise((resolve, reject) => {
      const timer = this._setTimer(() => {
        const queued = this._unqueue(correlationId);
        this._pending.delete(correlationId);
        if (!queued) this._send({ type: 'cancel', correlation_id: correlationId }); // stop the work
        reject(new AgentbusError('timeout', `no reply to ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this._pending.set(correlationId, { resolve, reject, onProgress, timer, sentOn: null });
      this._send(message);
    });
  }

  /** Ask the broker to end a request: it then fails with 'cancelled'. One
   * still waiting to be sent ends here. */
  cancel(correlationId) {
    const waiting = this._pending.get(correlationId);
    if (waiting && this._unqueue(correlationId)) {
      this._settle(correlationId, waiting, new AgentbusError('cancelled', 'cancelled before it was sent'));
      return;
    }
    this._send({ type: 'cancel', correlation_id: correlationId });
  }

  _unqueue(correlationId) {
    const before = this._outbox.length;
    this._outbox = this._outbox.filter((m) => m.correlation_id !== correlationId);
    return this._outbox.length !== before;
  }

  _settle(correlationId, waiting, error, reply) {
    this._pending.delete(correlationId);
    this._clearTimer(waiting.timer);
    if (error) waiting.reject(error);
    else waiting.resolve(reply);
  }

  // Only on a socket that is open and handshaken; else later, in order.
  _send(message) {
    if (this.state !== 'open' || this._ws?.readyState !== 1 /* OPEN */) {
      this._outbox.push(message);
      return;
    }
    this._ws.send(JSON.stringify(message));
    const waiting = this._pending.get(message.correlation_id);
    if (waiting && message.type !== 'cancel') waiting.sentOn = this._connection;
  }

  _onMessage(data) {
    this._heardBeats = 0; // anything at all says the connection lives
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (typeof msg.seq === 'number') {
      if (msg.seq <= this.lastSeq && msg.type !== 'connection_acknowledged') return; // seen it: a replay
      this.lastSeq = Math.max(this.lastSeq, msg.seq);
    }
    if (msg.type === 'connection_established') {
      this._handshake();
      return;
    }
    if (msg.type === 'connection_acknowledged') {
      this._acknowledged(msg);
      return;
    }
    const waiting = this._pending.get(msg.correlation_id);
    if (!waiting) {
      this.dispatchEvent(Object.assign(new Event('message'), { detail: msg }));
      return;
    }
    if (INTERIM.has(msg.type)) {
      waiting.onProgress?.(msg);
      return;
    }
    if (isErrorReply(msg)) this._settle(msg.correlation_id, waiting, new AgentbusError(msg.error.error_type, msg.error.message, msg));
    else this._settle(msg.correlation_id, waiting, null, msg);
  }

  _handshake() {
    const handshake = {
      type: 'connection_handshake', correlation_id: `hs_${++this._next}`, agent_id: this.agentId,
      agent_type: 'frontend', user_id: this.userId,
      capabilities: ['query_processing', 'real_time_updates', 'heartbeat'],
      client_info: { library: 'agentbus.js', browser: globalThis.navigator?.userAgent,
                     url: globalThis.location?.href },
    };
    if (this._token) handshake.token = this._token;
    if (this.lastSeq > 0) handshake.resume = { last_seq: this.lastSeq };
    this._ws.send(JSON.stringify(handshake));
  }

  _acknowledged(ack) {
    // A session the broker did not resume (a restarted broker) counts
    // from its ack again.
    if (typeof ack.seq === 'number') this.lastSeq = ack.seq;
    this.heartbeatInterval = ack.heartbeat_interval || this.heartbeatInterval;
    this.messagesLost = ack.messages_lost === true;
    const resumed = ack.session_resumed === true;
    this._attempt = 0;
    this._connection++;
    this.state = 'open';
    if (this.messagesLost) {
      // What went out on an earlier connection and is no longer held will
      // not be answered: say so now, before anything new is sent.
      this._failAll('upstream_unavailable', 'the reply was lost while disconnected',
                    (waiting) => waiting.sentOn !== null && waiting.sentOn < this._connection);
    }
    const outbox = this._outbox;
    this._outbox = [];
    for (const message of outbox) this._send(message);
    this._startHeartbeat();
    this._setState('open', { resumed, messagesLost: this.messagesLost });
  }

  _failAll(errorType, text, which = () => true) {
    for (const [cid, waiting] of this._pending) {
      if (which(waiting)) this._settle(cid, waiting, new AgentbusError(errorType, text));
    }
  }

  // A heartbeat every interval; a connection that brought nothing in two
  // intervals (a laptop asleep, a NAT that forgot it) is closed with 4000,
  // not 1000 (which would end the session), and the client reconnects.
  _startHeartbeat() {
    this._stopHeartbeat();
    this._heardBeats = 0;
    const beat = () => {
      if (++this._heardBeats > 2) {
        this._ws?.close(4000, 'no answer to heartbeats');
        return;
      }
      this._send({ type: 'heartbeat', correlation_id: `hb_${++this._next}` });
      this._heartbeat = this._setTimer(beat, this.heartbeatInterval * 1000);
    };
    this._heartbeat = this._setTimer(beat, this.heartbeatInterval * 1000);
  }

  _stopHeartbeat() {
    if (this._heartbeat) this._clearTimer(this._heartbeat);
    this._heartbeat = null;
  }

  _onClose(code) {
    this._stopHeartbeat();
    this._ws = null;
    if (this._stopped) return;
    if (FINAL_CLOSES.has(code)) {
      this._outbox = [];
      this._failAll(code === 4002 ? 'cancelled' : 'forbidden',
                    code === 4002 ? 'the session was taken over by another connection'
                                  : `the broker refused the connection (${code})`);
      this._setState('closed', { code });
      return;
    }
    const wait = backoff(this._attempt++, { random: this._random });
    this._setState('reconnecting', { code, retryInMs: wait });
    this._reconnect = this._setTimer(() => this.connect(), wait);
  }
}
