// The BullMQ side of bench/run: each scenario as bench/run measures Herald's, on the same
// redis-server, the same sink and the same item JSON. Completed jobs are KEPT (Herald keeps its
// ledger and audit trail). Prints one JSON object per run on stdout.
// Usage: node bench.mjs SCENARIO --redis-port P [--item FILE] [--alert-item FILE] [--sink URL]
//                        [--jobs N] ...
//   queue    N jobs by addBulk, a Worker (concurrency 64) with a no-op processor → jobs/s; then
//            the pickup of a priority-1 job on an empty queue (median of --runs, 50)
//   e2e      N jobs waiting, a Worker (concurrency 50) doing one HTTP POST each → jobs/s,
//            and Redis memory kept per completed job
//   ingest   N add() calls, 32 in flight → jobs/s
//   batch    N jobs by addBulk of --batch (1,000), one at a time → jobs/s
//   alerts   a backlog of routine jobs (priority 10) on a Worker (concurrency 50) whose POSTs
//            take --delay-ms, then --alerts jobs of priority 1 one at a time → p50/p99 of add()
//            to the sink's arrival
//   waiting  N delayed jobs → Redis memory per job, and this process's RSS (Queue + idle Worker)
//   idle     one idle Worker → Redis commands/s (INFO commandstats, INFO itself left out)
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const argv = process.argv.slice(2);
const scenario = argv[0];
const arg = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  return typeof fallback === 'number' ? Number(argv[i + 1]) : argv[i + 1];
};
const connection = { host: '127.0.0.1', port: arg('redis-port', 6379) };
const jobs = arg('jobs', 10000);
const sink = arg('sink', '');
const readItem = (file) => (file ? JSON.parse(readFileSync(file, 'utf8')) : { title: 'bench' });
const item = readItem(arg('item', ''));
const alertItem = readItem(arg('alert-item', arg('item', '')));
item.channels = ['webhook'];
alertItem.channels = ['webhook'];
const name = `${scenario}-${Date.now()}`;
const redis = new Redis(connection);

const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const usedMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);
const print = (o) => console.log(JSON.stringify(o));

// One keep-alive pool of `concurrency` sockets: what a worker holding N platform calls would use.
function poster(url, concurrency) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const target = new URL(url);
  return (body) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: target.hostname,
          port: target.port,
          path: target.pathname + target.search,
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

// The webhook body Herald sends, so both sides put the same bytes on the wire.
const bodyOf = (job) =>
  JSON.stringify({ delivery_id: job.id, item_id: job.id, channel: 'webhook', attempt: job.attemptsMade + 1, item: job.data });

async function addAll(queue, n, opts = {}) {
  for (let first = 0; first < n; first += 1000) {
    const batch = [];
    for (let i = first; i < Math.min(n, first + 1000); i++) batch.push({ name: 'delivery', data: item, opts });
    await queue.addBulk(batch);
  }
}

// Resolves when the worker has completed `n` jobs; returns the seconds from now.
function drained(worker, n) {
  let done = 0;
  const start = process.hrtime.bigint();
  return new Promise((resolve) =>
    worker.on('completed', () => {
      if (++done === n) resolve(Number(process.hrtime.bigint() - start) / 1e9);
    }),
  );
}

async function queueOnly() {
  const queue = new Queue(name, { connection });
  for (let first = 0; first < jobs; first += 5000) {
    const batch = [];
    for (let i = first; i < Math.min(jobs, first + 5000); i++) batch.push({ name: 'delivery', data: { title: 'bench', i } });
    await queue.addBulk(batch);
  }
  const worker = new Worker(name, async () => 'r', { connection, concurrency: arg('concurrency', 64), autorun: false });
  const done = drained(worker, jobs);
  worker.run();
  const seconds = await done;
  await worker.close();
  print({ jobs, seconds, per_s: jobs / seconds, pickup_ms: await pickup() });
}

// On an EMPTY queue with the worker idle, a job of priority 1: the time from just before add()
// to the processor's start, median of --runs (queue_bench's alert pickup, there behind a backlog).
async function pickup() {
  const queue = new Queue(`${name}-pickup`, { connection });
  let picked;
  const worker = new Worker(queue.name, async () => picked(process.hrtime.bigint()), { connection, concurrency: 1 });
  await worker.waitUntilReady();
  const samples = [];
  for (let r = 0; r < arg('runs', 50); r++) {
    await sleep(20); // the worker goes back to blocking: each run measures a wake-up
    const pickedAt = new Promise((resolve) => (picked = resolve));
    const start = process.hrtime.bigint();
    await queue.add('alert', { title: 'alert', r }, { priority: 1 });
    samples.push(Number((await pickedAt) - start) / 1e6);
  }
  await worker.close();
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

async function endToEnd() {
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const before = await usedMemory();
  await addAll(queue, jobs);
  const post = poster(sink, 50);
  const worker = new Worker(name, async (job) => post(bodyOf(job)), { connection, concurrency: 50, autorun: false });
  const done = drained(worker, jobs);
  worker.run();
  const seconds = await done;
  await worker.close();
  const after = await usedMemory();
  print({ jobs, seconds, per_s: jobs / seconds, kept_bytes_per_job: (after - before) / jobs });
}

async function ingest() {
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next++ < jobs) await queue.add('delivery', item);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  print({ jobs, seconds, per_s: jobs / seconds });
}

async function batch() {
  const queue = new Queue(name, { connection });
  await queue.waitUntilReady();
  const start = process.hrtime.bigint();
  await addAll(queue, jobs);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  print({ jobs, seconds, per_s: jobs / seconds });
}

async function arrival(tag) {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    const text = await (await fetch(`${new URL(sink).origin}/arrivals`)).text();
    for (const line of text.split('\n')) {
      const [t, at] = line.split(' ');
      if (t === tag) return Number(at);
    }
    await sleep(2);
  }
  throw new Error(`alert ${tag} did not reach the sink within 60 s`);
}

async function alerts() {
  const queue = new Queue(name, { connection });
  // Jobs without a priority would go before any prioritized one: routine work gets priority 10.
  await addAll(queue, jobs, { priority: 10 });
  const post = poster(sink, 50);
  const worker = new Worker(name, async (job) => post(bodyOf(job)), { connection, concurrency: 50 });
  await worker.waitUntilReady();
  if (arg('delay-ms', 0) > 0) await sleep(1500); // every slot busy with a slow routine call
  const samples = [];
  for (let k = 0; k < arg('alerts', 50); k++) {
    await sleep(20);
    const tag = `b${k}-${Date.now() % 100000}`;
    const start = nowUs();
    await queue.add('alert', { ...alertItem, title: `${alertItem.title} bench-mark-${tag}` }, { priority: 1 });
    samples.push((await arrival(tag)) - start);
  }
  const left = await queue.getJobCountByTypes('prioritized', 'waiting');
  await worker.close(true);
  samples.sort((a, b) => a - b);
  const pct = (p) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))] / 1000;
  print({ alerts: samples.length, p50_ms: pct(0.5), p99_ms: pct(0.99), backlog_left: left });
}

async function waiting() {
  const queue = new Queue(name, { connection });
  const worker = new Worker(name, async () => 'r', { connection, concurrency: 50 });
  await worker.waitUntilReady();
  const before = await usedMemory();
  await addAll(queue, jobs, { delay: 3600 * 1000 });
  await sleep(1000);
  const after = await usedMemory();
  print({ jobs, bytes_per_job: (after - before) / jobs, rss_bytes: process.memoryUsage().rss });
  await worker.close(true);
}

async function commandCalls() {
  const text = await redis.info('commandstats');
  let calls = 0;
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (m[1] !== 'info') calls += Number(m[2]);
  return calls;
}

async function idle() {
  const worker = new Worker(name, async () => 'r', { connection });
  await worker.waitUntilReady();
  await sleep(2000);
  const seconds = arg('seconds', 30);
  const before = await commandCalls();
  await sleep(seconds * 1000);
  const after = await commandCalls();
  await worker.close(true);
  print({ seconds, commands_per_s: (after - before) / seconds });
}

const scenarios = { queue: queueOnly, e2e: endToEnd, ingest, batch, alerts, waiting, idle };
if (!scenarios[scenario]) {
  console.error(`usage: node bench.mjs ${Object.keys(scenarios).join('|')} --redis-port P ...`);
  process.exit(2);
}
await scenarios[scenario]();
process.exit(0);
