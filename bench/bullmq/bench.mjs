// BullMQ measured like bench/queue_bench.cpp measures Herald's queue:
//   throughput: N jobs added in bulk, then one Worker with the given concurrency runs a no-op
//               processor until all N are completed → jobs/s (completed jobs are kept, as
//               Herald keeps its ledger);
//   alert pickup: on an EMPTY queue, with the worker idle, a job is added with priority 1; the
//               time runs from just before add() to the processor's start (median of R runs).
// Usage: node bench.mjs --redis-port P [--jobs N] [--concurrency C] [--runs R]
import { Queue, Worker } from 'bullmq';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const connection = { host: '127.0.0.1', port: arg('redis-port', 6379) };
const jobs = arg('jobs', 100000);
const concurrency = arg('concurrency', 64);
const runs = arg('runs', 50);
const stamp = Date.now();

async function throughput() {
  const queue = new Queue(`tp-${stamp}`, { connection });
  for (let first = 0; first < jobs; first += 5000) {
    const batch = [];
    for (let i = first; i < Math.min(jobs, first + 5000); i++) {
      batch.push({ name: 'delivery', data: { title: 'bench', i } });
    }
    await queue.addBulk(batch);
  }
  let done = 0;
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  const start = process.hrtime.bigint();
  const worker = new Worker(queue.name, async () => 'r', { connection, concurrency });
  worker.on('completed', () => {
    if (++done === jobs) finish();
  });
  await finished;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await worker.close();
  await queue.close();
  return jobs / seconds;
}

async function alertPickup() {
  const queue = new Queue(`al-${stamp}`, { connection });
  let started;
  let picked;
  const worker = new Worker(
    queue.name,
    async () => {
      picked(process.hrtime.bigint());
    },
    { connection, concurrency: 1 },
  );
  await worker.waitUntilReady();
  const samples = [];
  for (let r = 0; r < runs; r++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const pickedAt = new Promise((resolve) => (picked = resolve));
    started = process.hrtime.bigint();
    await queue.add('alert', { title: 'alert', r }, { priority: 1 });
    const at = await pickedAt;
    samples.push(Number(at - started) / 1e6);
  }
  await worker.close();
  await queue.close();
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const rate = await throughput();
console.log(`bullmq throughput: ${jobs} jobs, concurrency ${concurrency}: ${rate.toFixed(0)} jobs/s`);
const pickup = await alertPickup();
console.log(`bullmq alert pickup on an empty queue: median ${pickup.toFixed(3)} ms over ${runs} runs`);
process.exit(0);
