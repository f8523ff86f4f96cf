// Node's own fetch against the broker's HTTP API, as a deployed frontend
// calls it: argv[2] is the base URL, argv[3] a JSON list of {method, path, body?, headers?}; each
// answer is printed as one JSON line {status, headers, body} (body parsed).
const base = process.argv[2];
const requests = JSON.parse(process.argv[3]);
for (const r of requests) {
  const res = await fetch(base + r.path, {
    method: r.method,
    headers: r.headers ?? (r.body === undefined ? {} : { 'Content-Type': 'application/json' }),
    body: r.body === undefined ? undefined : JSON.stringify(r.body),
  });
  const text = await res.text();
  let body;
  try { body = JSON.parse(text); } catch { body = text; }
  console.log(JSON.stringify({ status: res.status, headers: Object.fromEntries(res.headers), body }));
}
