// The web console: a database picker, an SQL editor with run and cancel,
// results as a sortable table, and the broker's health and metrics. It
// talks to the broker it was served by, through agentbus.js.
import { AgentbusClient } from './agentbus.js';

const $ = (id) => document.getElementById(id);
const bus = new AgentbusClient({ userId: 'console', url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws` });
let running = null; // the correlation_id of the query in flight
let rows = [];
let columns = [];
let sort = { column: null, descending: false };

function showError(text) {
  $('error').hidden = !text;
  $('error').textContent = text ?? '';
}

function describe(error) {
  return error.errorType ? `${error.message} (${error.errorType})` : String(error.message ?? error);
}

bus.addEventListener('state', (event) => {
  const { state, resumed, messagesLost, retryInMs } = event.detail;
  const badge = $('state');
  badge.dataset.state = state;
  badge.textContent = state === 'open' ? (resumed ? 'connected (resumed)' : 'connected')
    : state === 'reconnecting' ? `reconnecting${retryInMs ? ` in ${(retryInMs / 1000).toFixed(1)} s` : '…'}`
    : state;
  $('agent').textContent = bus.agentId;
  if (state === 'open') {
    if (messagesLost) showError('Some replies were lost while the connection was down.');
    loadDatabases();
  }
});

async function loadDatabases() {
  const select = $('database');
  try {
    const reply = await bus.request('get_databases', {});
    const current = select.value;
    select.replaceChildren(...reply.databases.map((db) => new Option(db.name, db.name)));
    select.disabled = false;
    const wanted = sessionStorage.getItem('agentbus.console.database') ?? current;
    if (wanted && reply.databases.some((db) => db.name === wanted)) select.value = wanted;
    await selectDatabase(select.value);
  } catch (error) {
    showError(`Cannot list the databases: ${describe(error)}`);
  }
}

async function selectDatabase(name) {
  if (!name) return;
  try {
    const reply = await bus.request('database_select', { database_name: name, session_id: bus.sessionId });
    sessionStorage.setItem('agentbus.console.database', name);
    const tables = reply.response.tables ?? [];
    $('database-info').textContent = `${tables.length} tables: ${tables.map((t) => t.name).join(', ')}`;
  } catch (error) {
    showError(`Cannot select ${name}: ${describe(error)}`);
  }
}

function renderTable() {
  const table = $('results');
  const head = document.createElement('tr');
  for (const column of columns) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = column;
    th.tabIndex = 0;
    if (sort.column === column) th.setAttribute('aria-sort', sort.descending ? 'descending' : 'ascending');
    const sortBy = () => {
      sort = { column, descending: sort.column === column && !sort.descending };
      renderTable();
    };
    th.addEventListener('click', sortBy);
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter') sortBy(); });
    head.append(th);
  }
  let shown = rows;
  if (sort.column) {
    const key = sort.column;
    shown = [...rows].sort((a, b) => {
      const x = a[key], y = b[key];
      const order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return sort.descending ? -order : order;
    });
  }
  const body = shown.map((row) => {
    const tr = document.createElement('tr');
    for (const column of columns) {
      const td = document.createElement('td');
      td.textContent = row[column] === null ? 'NULL' : String(row[column]);
      tr.append(td);
    }
    return tr;
  });
  table.replaceChildren(head, ...body);
}

async function run() {
  if (running) return;
  showError(null);
  $('progress').textContent = 'running…';
  $('run').disabled = true;
  $('cancel').disabled = false;
  const correlationId = `q_${Date.now().toString(36)}`;
  running = correlationId;
  try {
    const reply = await bus.request('query', { correlation_id: correlationId, query: $('sql').value,
                                               session_id: bus.sessionId }, {
      onProgress: (msg) => {
        if (msg.type === 'query_progress') $('progress').textContent = msg.message ?? `${msg.progress}/${msg.total}`;
      },
    });
    const result = reply.response.result;
    rows = result.data ?? [];
    columns = result.columns ?? [];
    sort = { column: null, descending: false };
    renderTable();
    $('summary').textContent = `${result.row_count} ${result.row_count === 1 ? 'row' : 'rows'} in ${result.processing_time_ms} ms`;
  } catch (error) {
    showError(error.errorType === 'cancelled' ? 'The query was cancelled.' : describe(error));
    $('summary').textContent = '';
  } finally {
    running = null;
    $('progress').textContent = '';
    $('run').disabled = false;
    $('cancel').disabled = true;
  }
}

// ---- health and metrics ---------------------------------------------------------

let lastMessages = null;

function sampleSum(text, name) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(name + '{') || line.startsWith(name + ' ')) sum += Number(line.split(' ').pop());
  }
  return sum;
}

async function refreshHealth() {
  try {
    const health = await (await fetch('/health', { cache: 'no-store' })).json();
    $('h-status').textContent = health.status;
    $('h-uptime').textContent = `${Math.round(health.uptime_seconds)} s`;
    $('h-connections').textContent = health.active_connections;
    $('h-upstreams').replaceChildren(...(health.upstreams ?? []).map((u) => {
      const li = document.createElement('li');
      li.textContent = `${u.agent_id}: ${u.state}${u.tools >= 0 ? `, ${u.tools} tools` : ''}`;
      return li;
    }));
    const metrics = await (await fetch('/metrics', { cache: 'no-store' })).text();
    const now = { at: performance.now(), count: sampleSum(metrics, 'agentbus_ws_messages_total') };
    if (lastMessages && now.at > lastMessages.at) {
      $('h-rate').textContent = ((now.count - lastMessages.count) / ((now.at - lastMessages.at) / 1000)).toFixed(1);
    }
    lastMessages = now;
  } catch {
    $('h-status').textContent = 'unreachable';
  }
}

$('run').addEventListener('click', run);
$('cancel').addEventListener('click', () => running && bus.cancel(running));
$('sql').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(); });
$('database').addEventListener('change', (e) => selectDatabase(e.target.value));
bus.connect();
refreshHealth();
setInterval(refreshHealth, 3000);
