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
  $('run').disabled = state !== 'open' || running !== null;
  if (state === 'open') {
    if (messagesLost && running) showError('The reply was lost while the connection was down.');
    $('database-info').textContent = '';
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
    setTimeout(() => bus.state === 'open' && loadDatabases(), 5000); // try again
  }
}

async function selectDatabase(name) {
  if (!name) return;
  try {
    const reply = await bus.request('database_select', { database_name: name, session_id: bus.sessionId });
    sessionStorage.setItem('agentbus.console.database', name);
    const tables = reply.response.tables ?? [];
    $('database-info').textContent =
      `${tables.length} ${tables.length === 1 ? 'table' : 'tables'}: ${tables.map((t) => t.name).join(', ')}`;
  } catch (error) {
    showError(`Cannot select ${name}: ${describe(error)}`);
    $('database').value = sessionStorage.getItem('agentbus.console.database') ?? '';
  }
}

function cellText(value) {
  if (value === null || value === undefined) return 'NULL';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

// Numbers in number order, NULLs last, the rest as text.
function compare(x, y) {
  if (x === null || x === undefined) return y === null || y === undefined ? 0 : 1;
  if (y === null || y === undefined) return -1;
  if (typeof x === 'number' && typeof y === 'number') return x - y;
  return cellText(x).localeCompare(cellText(y));
}

function renderTable(focusColumn = null) {
  const table = $('results');
  const head = document.createElement('tr');
  for (const column of columns) {
    const th = document.createElement('th');
    th.scope = 'col';
    if (sort.column === column) th.setAttribute('aria-sort', sort.descending ? 'descending' : 'ascending');
    const button = document.createElement('button'); // a button: Enter and Space sort
    button.type = 'button';
    button.className = 'sort';
    button.textContent = column;
    button.addEventListener('click', () => {
      sort = { column, descending: sort.column === column && !sort.descending };
      renderTable(column);
    });
    th.append(button);
    head.append(th);
  }
  const shown = sort.column
    ? [...rows].sort((a, b) => (sort.descending ? -1 : 1) * compare(a[sort.column], b[sort.column]))
    : rows;
  const body = shown.map((row) => {
    const tr = document.createElement('tr');
    for (const column of columns) {
      const td = document.createElement('td');
      td.textContent = cellText(row[column]);
      tr.append(td);
    }
    return tr;
  });
  table.replaceChildren(head, ...body);
  if (focusColumn !== null) head.children[columns.indexOf(focusColumn)]?.firstChild.focus();
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
    $('summary').textContent =
      `${result.row_count} ${result.row_count === 1 ? 'row' : 'rows'} in ${result.processing_time_ms} ms`;
  } catch (error) {
    showError(error.errorType === 'cancelled' ? 'The query was cancelled.' : describe(error));
    $('summary').textContent = '';
  } finally {
    running = null;
    $('progress').textContent = '';
    $('run').disabled = bus.state !== 'open';
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
    // Messages the broker routed, from every transport.
    const now = { at: performance.now(), count: sampleSum(metrics, 'agentbus_messages_submitted_total') };
    if (lastMessages && now.at > lastMessages.at && now.count >= lastMessages.count) { // else: a new broker
      $('h-rate').textContent = ((now.count - lastMessages.count) / ((now.at - lastMessages.at) / 1000)).toFixed(1);
    }
    lastMessages = now;
  } catch {
    $('h-status').textContent = 'unreachable';
  }
}

$('run').addEventListener('click', run);
$('cancel').addEventListener('click', () => {
  if (!running) return;
  bus.cancel(running);
  $('cancel').disabled = true;
  $('progress').textContent = 'cancelling…';
});
$('sql').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(); });
$('database').addEventListener('change', (e) => selectDatabase(e.target.value));
bus.connect();
refreshHealth();
setInterval(refreshHealth, 3000);
