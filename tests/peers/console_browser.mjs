// Drives the web console in Debian's headless Chromium (playwright-core):
// connect, pick a database, run a query, sort, then wait while the test
// restarts the broker, see the console reconnect, and query again. Prints
// one JSON line per step on stdout; reads "restarted" on stdin.
// argv: base URL, screenshot path.
import { chromium } from 'playwright-core';
import readline from 'node:readline';

const [base, screenshot] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once('line', resolve));
const say = (step, data = {}) => console.log(JSON.stringify({ step, ...data }));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  const states = [];
  await page.exposeFunction('recordState', (s) => states.push(s));
  await page.goto(base + '/');
  await page.evaluate(() => new MutationObserver(() => window.recordState(document.getElementById('state').dataset.state))
    .observe(document.getElementById('state'), { attributes: true }));
  await page.waitForSelector('#state[data-state="open"]', { timeout: 15000 });
  say('connected', { agent: await page.textContent('#agent') });

  await page.waitForSelector('#database option[value="demo"]', { state: 'attached' });
  await page.selectOption('#database', 'demo');
  await page.waitForFunction(() => document.getElementById('database-info').textContent.includes('customers'));
  say('selected', { info: await page.textContent('#database-info') });

  await page.fill('#sql', "SELECT name, country FROM customers WHERE country = 'US' ORDER BY name");
  await page.click('#run');
  await page.waitForFunction(() => document.getElementById('summary').textContent.includes('rows in'));
  const table = () => page.$$eval('#results tr', (trs) => trs.map((tr) => [...tr.children].map((c) => c.textContent)));
  say('rows', { table: await table(), summary: await page.textContent('#summary') });
  await page.click('#results th:first-child button');
  await page.keyboard.press('Space'); // the header keeps the focus: sort again, descending
  say('sorted', { table: await table(), sort: await page.getAttribute('#results th:first-child', 'aria-sort'),
                  focused: await page.evaluate(() => document.activeElement.textContent) });

  await page.fill('#sql', 'SELECT * FROM nowhere');
  await page.click('#run');
  await page.waitForSelector('#error:not([hidden])');
  say('error', { text: await page.textContent('#error') });

  // A database the upstream does not start in: after the restart the
  // console must select it again for this session.
  await page.selectOption('#database', 'analytics');
  await page.waitForFunction(() => document.getElementById('database-info').textContent.includes('daily_metrics'));
  say('restart-now');
  await nextLine();
  await page.waitForFunction(() => document.getElementById('state').dataset.state === 'open', null, { timeout: 30000 });
  await page.waitForFunction(() => document.getElementById('database-info').textContent.includes('daily_metrics'));
  await page.fill('#sql', 'SELECT count(*) AS days FROM daily_metrics');
  await page.click('#run');
  await page.waitForFunction(() => document.getElementById('summary').textContent.startsWith('1 row'));
  // The health panel tells the truth about the new broker: this console is its one connection.
  await page.waitForFunction(() => document.getElementById('h-connections').textContent === '1' &&
                                   /^[0-9.]+$/.test(document.getElementById('h-rate').textContent), null,
                             { timeout: 20000 });
  say('after-restart', { states, table: await table(), health: await page.textContent('#h-status'),
                         connections: await page.textContent('#h-connections'),
                         error: await page.isVisible('#error') ? await page.textContent('#error') : null });
  await page.screenshot({ path: screenshot, fullPage: true });
  say('done', { consoleErrors });
} finally {
  await browser.close();
  lines.close();
}
