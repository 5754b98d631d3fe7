// The web console in Debian's chromium, driven by playwright-core (no browser is downloaded):
// herald-sim and heraldd are started here as the C++ end-to-end tests start them, on the test
// Redis ($HERALD_TEST_REDIS_URL). One run: sign in, compose an alert (its title an XSS attempt),
// two reviewers approve, every channel publishes, retract, every channel shows 已撤回; the author
// cannot approve their own item, a drafter cannot see the report page, a change without the CSRF
// token is refused. A screenshot of each page goes to artefacts/ (HERALD_CONSOLE_SCREENSHOTS can
// name a second directory, e.g. docs/console).
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

const here = path.dirname(new URL(import.meta.url).pathname);
const root = path.resolve(here, '../..');
const build = path.resolve(root, process.env.HERALD_BUILD_DIR || 'build');
const redisUrl = process.env.HERALD_TEST_REDIS_URL;
if (!redisUrl) throw new Error('set HERALD_TEST_REDIS_URL to a throw-away redis-server');
const artefacts = path.join(here, 'artefacts');
mkdirSync(artefacts, { recursive: true });
const WAIT = 60_000;  // publishing and retracting through herald-sim take a few seconds

const users = {
  duty: { token: 'browser-duty-token', roles: ['duty_officer', 'drafter'] },
  rev: { token: 'browser-rev-token', roles: ['reviewer'] },
  rev2: { token: 'browser-rev2-token', roles: ['reviewer'] },
  drafter: { token: 'browser-drafter-token', roles: ['drafter'] },
  admin: { token: 'browser-admin-token', roles: ['admin', 'compiler'] },
};

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

const children = [];
function start(binary, args, log) {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  child.stdout.on('data', (d) => out.push(d));
  child.stderr.on('data', (d) => out.push(d));
  child.on('exit', () => writeFileSync(log, Buffer.concat(out)));
  children.push(child);
  return child;
}

async function waitFor(url) {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(500) })).ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer`);
}

const dir = mkdtempSync(path.join(tmpdir(), 'herald-browser-'));
const simPort = await freePort();
const sim = `http://127.0.0.1:${simPort}`;
start(path.join(build, 'services/herald-sim/herald-sim'),
  ['--listen', `127.0.0.1:${simPort}`, '--portal-key', 'browser-portal-key'], path.join(dir, 'sim.log'));
await waitFor(`${sim}/_sim/health`);

const apiPort = await freePort();
const base = `http://127.0.0.1:${apiPort}`;
const config = {
  http: { listen: `127.0.0.1:${apiPort}`, public: { listen: `127.0.0.1:${await freePort()}` } },
  redis: { url: redisUrl, key_prefix: `browser-${process.pid}-${Date.now()}:` },
  auth: { users: Object.entries(users).map(([name, u]) => ({
    name, roles: u.roles, token_sha256: createHash('sha256').update(u.token).digest('hex') })) },
  queue: { lease_ms: 1000, retry_base_ms: 50, retry_max_ms: 500, idle_block_ms: 1000 },
  office: { utc_offset_minutes: 480, name: '测试外事办公室' },
  channels: {
    weibo: { api_base: sim, access_token: 'weibo-sim-token', safe_domain: 'www.scfao.gov.cn', rip: '127.0.0.1' },
    portal: { url: sim, hmac_key: 'browser-portal-key', app_id: 'herald-browser', org_code: '11510000MB0000000X', column: 'zwdt' },
    webhook: { url: `${sim}/hooks/media-desk`, secret: 'browser-secret' },
  },
  log: { level: 'info' },
};
writeFileSync(path.join(dir, 'heraldd.json'), JSON.stringify(config, null, 2));
start(path.join(build, 'services/heraldd/heraldd'), ['--config', path.join(dir, 'heraldd.json')],
  path.join(dir, 'heraldd.log'));
await waitFor(`${base}/readyz`);

const browser = await chromium.launch({
  executablePath: process.env.HERALD_CHROMIUM || '/usr/bin/chromium',
  // As root (CI) chromium runs only without its sandbox; the pages are our own.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});

async function shot(page, name) {
  const file = path.join(artefacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (process.env.HERALD_CONSOLE_SCREENSHOTS) {
    mkdirSync(process.env.HERALD_CONSOLE_SCREENSHOTS, { recursive: true });
    copyFileSync(file, path.join(process.env.HERALD_CONSOLE_SCREENSHOTS, `${name}.png`));
  }
}

async function signIn(name, viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('pageerror', (e) => { if (e.message !== 'not allowed') console.error(`[${name}] page error: ${e.message}`); });
  await page.goto(`${base}/console/index.html`);
  assert.equal(new URL(page.url()).pathname, '/console/sign-in.html', 'no session: sent to sign in');
  await page.getByLabel('API 令牌').fill(users[name].token);
  await page.getByRole('button', { name: '登录' }).click();
  await page.waitForURL('**/console/index.html');
  await page.locator('nav .who').waitFor();
  return page;
}

let failed = false;
const step = async (what, fn) => {
  try {
    await fn();
    console.log(`ok - ${what}`);
  } catch (error) {
    failed = true;
    console.log(`not ok - ${what}\n  ${String(error.stack || error).split('\n').join('\n  ')}`);
    throw error;
  }
};

const xssTitle = '<img src=x onerror="window.__xss=1">提醒中国公民近期谨慎前往泰国南部';
try {
  const duty = await signIn('duty');
  await step('sign-in page', async () => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${base}/console/sign-in.html`);
    await shot(page, 'sign-in');
  });

  let itemUrl = '';
  await step('compose an alert with a live preview; the XSS title renders as text', async () => {
    await duty.goto(`${base}/console/compose.html`);
    await duty.getByLabel('标题').fill(xssTitle);
    await duty.getByLabel('摘要').fill('泰国南部近期发生多起爆炸袭击事件，提醒中国公民近期谨慎前往。');
    await duty.getByLabel('正文').fill('近期，泰国南部发生多起爆炸袭击事件。外交部提醒中国公民近期谨慎前往上述地区。');
    await duty.getByLabel('链接').fill('https://www.scfao.gov.cn/alerts/th-south');
    await duty.getByLabel('预警级别').selectOption('reconsider');
    await duty.locator('#areas').fill('TH 泰国南部');
    await duty.getByLabel('有效期至').fill('2027-03-01T00:00');
    await duty.locator('#preview article').first().waitFor({ timeout: WAIT });
    assert.equal(await duty.locator('#preview article').count(), 3, 'one preview per channel');
    await duty.getByText('内容检查：未发现问题。').waitFor();
    await shot(duty, 'compose');
    await duty.getByRole('button', { name: '提交审核' }).click();
    await duty.waitForURL('**/console/item.html?id=*');
    itemUrl = duty.url();
    await duty.locator('#title').waitFor();
    assert.equal(await duty.locator('#title').textContent(), xssTitle);
    assert.equal(await duty.locator('#item img').count(), 0);
    assert.equal(await duty.evaluate(() => window.__xss), undefined);
  });

  await step('the author cannot approve their own item', async () => {
    await duty.getByText('作者不能批准自己的稿件').waitFor();
    assert.equal(await duty.getByRole('button', { name: '批准' }).count(), 0);
    await shot(duty, 'item-pending');
  });

  await step('a change without the CSRF token is refused with 403', async () => {
    const answer = await duty.evaluate(async () => {
      const r = await fetch('/v1/items', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      return { status: r.status, body: await r.json() };
    });
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error.code, 'csrf_failed');
  });

  await step('two reviewers approve from the review queue', async () => {
    for (const name of ['rev', 'rev2']) {
      const page = await signIn(name, name === 'rev2' ? { width: 390, height: 844 } : undefined);
      const card = page.locator('#queue li', { hasText: '泰国南部' }).first();
      await card.waitFor();
      await card.getByLabel('审核意见').fill('同意发布');
      if (name === 'rev') await shot(page, 'review-queue');
      else await shot(page, 'review-queue-phone');
      await card.getByRole('button', { name: '批准' }).click();
      await card.getByText('已批准。').waitFor();
      await page.context().close();
    }
  });

  await step('the item page shows every channel published', async () => {
    await duty.goto(itemUrl);
    await duty.waitForFunction(() => {
      const states = [...document.querySelectorAll('#deliveries tbody .state')].map((n) => n.textContent);
      return states.length === 3 && states.every((s) => s.startsWith('已发布'));
    }, null, { timeout: WAIT });
    await shot(duty, 'item-published');
  });

  await step('retract with a reason, confirmation naming every channel; every channel 已撤回', async () => {
    await duty.getByLabel('撤回原因').fill('信息有误，撤回更正');
    await duty.getByRole('button', { name: '撤回…' }).click();
    const confirmText = await duty.locator('#retract-confirm p').textContent();
    for (const channel of ['weibo', 'portal', 'webhook']) assert.ok(confirmText.includes(channel), confirmText);
    await shot(duty, 'retract-confirm');
    await duty.getByRole('button', { name: '确认撤回' }).click();
    await duty.waitForFunction(() => {
      const cells = [...document.querySelectorAll('#deliveries tbody tr td:last-child')].map((n) => n.textContent);
      return cells.length === 3 && cells.every((c) => c.startsWith('已撤回'));
    }, null, { timeout: WAIT });
    await shot(duty, 'item-retracted');
  });

  await step('a drafter cannot see the report page', async () => {
    const page = await signIn('drafter');
    assert.equal(await page.locator('nav a', { hasText: '统计与报告' }).count(), 0);
    await page.goto(`${base}/console/report.html`);
    await page.getByText('统计与报告仅对统计员').waitFor();
    assert.equal(await page.locator('#stats-form').isVisible(), false);
    await page.context().close();
  });

  await step('compiler: statistics and report page; admin: dead letters', async () => {
    const page = await signIn('admin');
    await page.goto(`${base}/console/report.html`);
    await page.locator('#stats table, #stats p').first().waitFor({ timeout: WAIT });
    await shot(page, 'report');
    await page.goto(`${base}/console/dead.html`);
    await page.locator('#dead p, #dead ul').first().waitFor();
    await shot(page, 'dead-letters');
    await page.goto(`${base}/console/index.html`);
    await page.locator('#recent table').waitFor();
    await shot(page, 'index');
  });
} catch (error) {
  failed = true;
  if (!String(error.stack || '').includes('not ok')) console.error(error);
} finally {
  await browser.close();
  for (const child of children) child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  if (failed) {
    for (const log of ['heraldd.log', 'sim.log']) {
      try { console.error(`--- ${log}\n${readFileSync(path.join(dir, log), 'utf8').slice(-4000)}`); } catch { /* none */ }
    }
  }
}
process.exit(failed ? 1 : 0);
