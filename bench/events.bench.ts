#!/usr/bin/env node
/**
 * `npm run bench:events`: the write path under a steady stream of purchases, on the real data set in the bench
 * database (BENCH_DATABASE_URL, default retail_bench; loaded, embedded and trained first when it is not). The
 * recommendation service (RECOMMENDER_MODEL: BENCH_MODEL, default hybrid) and the gateway run as their own
 * processes, as in production, the gateway with an API key whose limits the bench does not reach.
 *   posting  the latest invoices of the data (the last weeks: as many lines as the run posts, oldest first),
 *            replayed as whole invoices under new invoice numbers (`B<run>-<n>`) through POST /api/purchases,
 *            paced: every 100 ms the next invoices up to `rate` lines/s (--rate, BENCH_RATE, default 1,000)
 *            for --seconds (BENCH_SECONDS, default 60), several requests in flight when answers are slow;
 *   exactly once  the lines the 202 answers accepted, against the lines in Postgres under this run's invoice
 *            numbers, invoice by invoice (a line twice, or missing, is a failure: the bench exits 1);
 *   lag      from each 202 to its customer's list computed with it: every accepted invoice is watched in
 *            Postgres (applied to the customer's purchases, and the customer's kept list of the served model
 *            current after that), polled every 100 ms; beside it the same in Postgres' own clock (the later of
 *            the list's computed_at and the invoice's applied_at, minus its recorded_at), and the service's histogram
 *            retail_purchase_to_list_seconds (quantiles interpolated in its buckets, as histogram_quantile does);
 *   reads    meanwhile GET /api/users/{id}/recommendations?top_n=12 for random customers, held at --read-rate
 *            (BENCH_READ_RATE, default 200) requests/s, open loop (latency from each request's scheduled time).
 *   product  after the load, a new product through PUT /api/products/{id} (with an embedder running): a
 *            description close to what a chosen customer bought (one of their products' words in another
 *            order), and the time until its vector is stored and until it is in that customer's top 100.
 * Prints the machine's load, the CPU each process used, and the depth of the refresh queue (what limits the
 * lag when it grows). The posted invoices stay in the bench database (they count as purchases: a later run
 * replays them again under other numbers); the new product is retired at the end.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import {
  LOCAL_EMBEDDING_MODEL,
  QueueNames,
  bullConnection,
  connectDatabase,
  servedModelOf,
  type Database,
  type RecommenderKind,
} from '@retail/common';
import { MAX_PURCHASE_LINES, type PurchaseLine } from '@retail/contracts';
import { freePort, metricSamples, startProcess, stop, type RunningProcess } from '@retail/testing';
import {
  BENCH_DATABASE_URL as DATABASE_URL,
  cpuMs,
  load,
  percentile,
  prepareBenchDatabase,
  runBench,
  untilEveryListCurrent,
  untilGatewayReady,
} from './bench-kit.ts';

const { values: flags } = parseArgs({
  options: {
    rate: { type: 'string' },
    seconds: { type: 'string' },
    'read-rate': { type: 'string' },
  },
});
const positive = (name: string, value: string): number => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not ${value}`);
  return n;
};
const RATE = positive('--rate', flags.rate ?? process.env.BENCH_RATE ?? '1000');
const SECONDS = positive('--seconds', flags.seconds ?? process.env.BENCH_SECONDS ?? '60');
const READ_RATE = positive('--read-rate', flags['read-rate'] ?? process.env.BENCH_READ_RATE ?? '200');
const KIND = (process.env.BENCH_MODEL ?? 'hybrid') as RecommenderKind;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const QUEUE_PREFIX = 'retail-bench-events';
const API_KEY = 'bench-events-key-0123456789abcdef';
const TICK_MS = 100;
/** How long after the last post the lag is still watched for. */
const LAG_TIMEOUT_MS = 120_000;

interface SourceInvoice {
  customerId: number;
  lines: Omit<PurchaseLine, 'invoice_no'>[];
}

/** An invoice posted by this run. */
interface Posted {
  invoiceNo: string;
  lines: number;
  /** performance.now() of its 202 (undefined: not accepted). */
  acceptedAt?: number;
  /** From the 202 to its customer's list seen computed with it (ms), and the same in Postgres' clock (ms). */
  seenMs?: number;
  dbMs?: number;
}

const ms = (x: number) => `${Math.round(x).toLocaleString('en-GB')} ms`;
const quantiles = (values: readonly number[]) =>
  `p50 ${ms(percentile(values, 50))}, p95 ${ms(percentile(values, 95))}, p99 ${ms(percentile(values, 99))}, ` +
  `max ${ms(values.length > 0 ? Math.max(...values) : 0)}`;
const sleep = (delay: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, delay)));

/** The latest invoices of the data (at least `lines` lines in all), oldest first. */
async function latestInvoices(
  db: Database,
  lines: number,
): Promise<{ invoices: SourceInvoice[]; span: string }> {
  const { rows } = await db.query<{
    invoice_no: string;
    product_id: string;
    description: string;
    quantity: number;
    invoice_date: string;
    unit_price: string;
    customer_id: number;
    country: string;
  }>(
    `WITH inv AS (SELECT invoice_no, min(invoice_date) AS d, count(*) AS n FROM order_lines GROUP BY invoice_no),
          picked AS (SELECT invoice_no, d FROM (
                       SELECT invoice_no, d, sum(n) OVER (ORDER BY d DESC, invoice_no DESC) - n AS before FROM inv) x
                      WHERE before < $1)
     SELECT o.invoice_no, o.product_id, o.description, o.quantity,
            to_char(o.invoice_date, 'YYYY-MM-DD HH24:MI:SS') AS invoice_date, o.unit_price::text AS unit_price,
            o.customer_id, o.country
       FROM order_lines o JOIN picked p USING (invoice_no)
      ORDER BY p.d, o.invoice_no, o.line_no`,
    [lines],
  );
  const invoices: SourceInvoice[] = [];
  let current: { no: string; invoice: SourceInvoice } | undefined;
  for (const row of rows) {
    if (current?.no !== row.invoice_no) {
      current = { no: row.invoice_no, invoice: { customerId: row.customer_id, lines: [] } };
      invoices.push(current.invoice);
    }
    current.invoice.lines.push({
      stock_code: row.product_id,
      description: row.description,
      quantity: row.quantity,
      invoice_date: row.invoice_date,
      unit_price: Number(row.unit_price),
      customer_id: row.customer_id,
      country: row.country,
    });
  }
  if (rows.length === 0) throw new Error('the bench database holds no order lines');
  const span = `${rows[0]!.invoice_date.slice(0, 10)} to ${rows.at(-1)!.invoice_date.slice(0, 10)}`;
  return { invoices, span };
}

/** Posted invoices not applied to their customer's purchases yet. */
async function unappliedInvoices(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM posted_invoices WHERE applied_at IS NULL',
  );
  return rows[0]!.n;
}

/** One HTTP request; resolves with the status and the body (status 0: no answer). */
function request(
  agent: http.Agent,
  base: URL,
  method: string,
  path: string,
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path,
        agent,
        headers: {
          ...(method === 'GET' ? {} : { authorization: `Bearer ${API_KEY}` }),
          ...(body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}),
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
        response.on('error', () => resolve({ status: 0, body: text }));
      },
    );
    req.on('error', (error) => resolve({ status: 0, body: error.message }));
    req.end(body);
  });
}

/** The Postgres backends serving `database` now (their command line names it; Linux only). */
function backendsOf(database: string): number[] {
  const pids: number[] = [];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
        if (cmdline.startsWith('postgres:') && cmdline.includes(` ${database} `)) pids.push(Number(entry));
      } catch {
        // gone meanwhile, or not ours to read
      }
    }
  } catch {
    // no /proc
  }
  return pids;
}

/** The machine's busy and total CPU time so far (jiffies, /proc/stat). */
function machineCpu(): { busy: number; total: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - fields[3]! - (fields[4] ?? 0), total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

/** Quantiles of a Prometheus histogram from its cumulative buckets (linear within a bucket, as histogram_quantile). */
function histogramQuantile(buckets: readonly { le: number; count: number }[], q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + ((le - lower) * (rank - below)) / Math.max(1, count - below);
    }
    lower = le;
    below = count;
  }
  return lower;
}

/** The purchase-to-list histogram and the purchase line counters of the recommendation service. */
async function purchaseMetrics(metricsPort: number): Promise<{ jobs: number; text: string }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const buckets = metricSamples(text, 'retail_purchase_to_list_seconds_bucket').map(({ labels, value }) => ({
    le: labels.le === '+Inf' ? Infinity : Number(labels.le),
    count: value,
  }));
  const count = buckets.at(-1)?.count ?? 0;
  const lines: Record<string, number> = {};
  for (const { labels, value } of metricSamples(text, 'retail_purchase_lines_total')) {
    lines[labels.outcome ?? '?'] = value;
  }
  const at = (q: number) => `${(histogramQuantile(buckets, q) * 1000).toFixed(0)} ms`;
  const summary =
    `${count} purchase jobs: p50 ${at(0.5)}, p95 ${at(0.95)}, p99 ${at(0.99)} ` +
    `(buckets ${buckets.map((b) => `≤${b.le === Infinity ? '+Inf' : `${b.le}s`} ${b.count}`).join(', ')}); ` +
    `lines counted by the service: ${Object.entries(lines)
      .map(([outcome, n]) => `${outcome} ${n}`)
      .join(', ')}`;
  return { jobs: count, text: summary };
}

/**
 * A new product for a customer who bought a few products (5 to 10: a mean over many products leaves one of
 * them little weight): the words of the description of one of them reversed (the same words, so close in the
 * description model; another description, so not excluded as bought), put through the API. How long until its
 * vector is stored, until it is "more like" the product it resembles (GET /api/products/{id}/similar, one
 * pgvector query in the description model) and until it is in that customer's top 100 of the served model.
 */
async function newProduct(
  db: Database,
  base: URL,
  productId: string,
  embedder: RunningProcess,
): Promise<void> {
  const { rows } = await db.query<{ customer_id: number; product_id: string; description: string }>(
    `SELECT ui.customer_id, p.product_id, p.description FROM user_items ui JOIN products p USING (product_id)
      WHERE ui.customer_id = (SELECT customer_id FROM customers WHERE products_bought BETWEEN 5 AND 10
                               ORDER BY customer_id LIMIT 1)
        AND p.is_merchandise AND p.description LIKE '% % %'
      ORDER BY ui.times_bought DESC, p.product_id LIMIT 1`,
  );
  const { customer_id: customer, product_id: resembled, description } = rows[0]!;
  const newDescription = description.split(' ').reverse().join(' ');
  const agent = new http.Agent({ keepAlive: true });
  const started = performance.now();
  const put = await request(
    agent,
    base,
    'PUT',
    `/api/products/${productId}`,
    JSON.stringify({ description: newDescription }),
  );
  if (put.status !== 200) throw new Error(`PUT /api/products/${productId}: ${put.status} ${put.body}`);
  const since = () => performance.now() - started;
  const listed = async (path: string, field: string) => {
    const answer = await request(agent, base, 'GET', path);
    if (answer.status !== 200) return false;
    const list = (JSON.parse(answer.body) as Record<string, { product_id: string }[]>)[field] ?? [];
    return list.some((entry) => entry.product_id === productId);
  };
  let embeddedMs: number | undefined;
  let similarMs: number | undefined;
  let listedMs: number | undefined;
  while (listedMs === undefined && since() < LAG_TIMEOUT_MS) {
    if (embeddedMs === undefined) {
      const { rowCount } = await db.query('SELECT 1 FROM product_embeddings WHERE product_id = $1', [
        productId,
      ]);
      if ((rowCount ?? 0) > 0) embeddedMs = since();
    }
    if (
      similarMs === undefined &&
      (await listed(`/api/products/${resembled}/similar?top_n=12`, 'products'))
    ) {
      similarMs = since();
    }
    if (await listed(`/api/users/${customer}/recommendations?top_n=100`, 'recommendations'))
      listedMs = since();
    if (listedMs === undefined) await sleep(200);
  }
  const seconds = (ms: number | undefined) =>
    ms === undefined ? `not within ${LAG_TIMEOUT_MS / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
  console.log(
    `product   "${newDescription}" (${productId}) for customer ${customer}, who bought "${description}" ` +
      `(${resembled}): after the PUT, its vector stored ${seconds(embeddedMs)}, among the 12 most like ${resembled} ` +
      `${seconds(similarMs)}, in the customer's top 100 ${seconds(listedMs)}`,
  );
  if (embeddedMs === undefined)
    console.log(`          the embedder's output:\n${embedder.output().slice(-2000)}`);
  await request(agent, base, 'DELETE', `/api/products/${productId}`);
  agent.destroy();
}

async function main(): Promise<void> {
  const served = servedModelOf(KIND, LOCAL_EMBEDDING_MODEL);
  const env = {
    DATABASE_URL,
    REDIS_URL,
    QUEUE_PREFIX,
    EMBEDDING_PROVIDER: 'local',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    RECOMMENDER_MODEL: KIND,
    API_KEYS: API_KEY,
    // One client posting (its key) and one reading (its address): limits they never reach.
    RATE_LIMIT_WRITES_PER_MINUTE: '10000000',
    RATE_LIMIT_READS_PER_MINUTE: '10000000',
  };
  await prepareBenchDatabase(env, { train: KIND !== 'description' });
  // Jobs left by an earlier run (a run stopped halfway) must not count in this one.
  const queue = new Queue(QueueNames.RecommendationRefresh, {
    connection: bullConnection({ redisUrl: REDIS_URL }),
    prefix: QUEUE_PREFIX,
  });
  await queue.obliterate({ force: true });
  const db = await connectDatabase(DATABASE_URL, { max: 3, applicationName: 'bench-events' });
  const running: RunningProcess[] = [];
  try {
    const { invoices: source, span } = await latestInvoices(db, RATE * SECONDS);
    const customers = (await db.query<{ id: number }>('SELECT customer_id AS id FROM customers')).rows.map(
      (row) => row.id,
    );

    const metricsPort = await freePort();
    const ports = { RECOMMENDATION_PORT: String(await freePort()), GATEWAY_PORT: String(await freePort()) };
    const base = new URL(`http://127.0.0.1:${ports.GATEWAY_PORT}`);
    const recommendation = startProcess('services/recommendation/dist/main.js', [], {
      ...env,
      ...ports,
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: 'log',
    });
    running.push(recommendation);
    const gateway = startProcess('services/gateway/dist/main.js', [], { ...env, ...ports });
    running.push(gateway);
    await recommendation.waitFor(/listening on tcp/, 60_000);
    const ready = performance.now();
    await untilGatewayReady(base.toString(), gateway);
    // Every list computed once (the refresh jobs after the start), and the invoices an earlier run left unapplied
    // (stopped halfway: its jobs were removed above) applied by the planner's catch-up: the run measures its own.
    await untilEveryListCurrent(db, served.name, 900_000);
    const leftBefore = await unappliedInvoices(db);
    for (let left = leftBefore; left > 0; left = await unappliedInvoices(db)) {
      if (performance.now() - ready > 300_000)
        throw new Error(`${left} invoices of earlier runs not applied`);
      await sleep(500);
    }
    if (leftBefore > 0) {
      console.log(
        `${leftBefore} invoices of earlier runs left unapplied: applied ${((performance.now() - ready) / 1000).toFixed(0)} s after the start`,
      );
    }
    const trainedBefore = (
      await db.query<{ t: string | null }>('SELECT max(trained_at)::text AS t FROM recommender_models')
    ).rows[0]!.t;

    const run = Date.now().toString(36);
    const prefix = `B${run}-`;
    const total = Math.round(RATE * SECONDS);
    console.log(
      `load average ${load()} (1, 5, 15 min) on ${availableParallelism()} cores; model ${served.name}\n` +
        `replaying ${source.length.toLocaleString('en-GB')} invoices of ${span} as ${prefix}<n>: ` +
        `${total.toLocaleString('en-GB')} lines at ${RATE.toLocaleString('en-GB')} lines/s for ${SECONDS} s; ` +
        `reading at ${READ_RATE} req/s`,
    );

    const posted: Posted[] = [];
    const tally = {
      accepted: 0,
      duplicates: 0,
      dropped: 0,
      requests: 0,
      failed: 0,
      failures: new Map<string, number>(),
    };
    const postLatencies: number[] = [];
    const watched = new Map<string, Posted>();
    const depths: number[] = [];
    let posting = true;

    const cpuPids = { gateway: gateway.pid, recommendation: recommendation.pid };
    const database = new URL(DATABASE_URL).pathname.slice(1);
    const backendsBefore = new Map(backendsOf(database).map((pid) => [pid, cpuMs(pid)]));
    const cpuBefore = { gateway: cpuMs(cpuPids.gateway), recommendation: cpuMs(cpuPids.recommendation) };
    const machineBefore = machineCpu();
    const started = performance.now();
    const runStarted = Date.now();

    // The writer: every tick, the next invoices up to the lines due by then, in requests of at most MAX_PURCHASE_LINES.
    const writeAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const writer = (async () => {
      const inFlight: Promise<void>[] = [];
      let next = 0;
      let sent = 0;
      for (let tick = 1; sent < total; tick++) {
        await sleep(started + tick * TICK_MS - performance.now());
        const scheduled = performance.now();
        const due = Math.min(total, Math.round((RATE * tick * TICK_MS) / 1000));
        const batches: Posted[][] = [];
        let batch: Posted[] = [];
        let batchLines = 0;
        const bodies: PurchaseLine[][] = [];
        let body: PurchaseLine[] = [];
        while (sent < due) {
          const invoice = source[next % source.length]!;
          const invoiceNo = `${prefix}${next++}`;
          if (batchLines + invoice.lines.length > MAX_PURCHASE_LINES && batch.length > 0) {
            batches.push(batch);
            bodies.push(body);
            batch = [];
            body = [];
            batchLines = 0;
          }
          const entry: Posted = { invoiceNo, lines: invoice.lines.length };
          posted.push(entry);
          batch.push(entry);
          body.push(...invoice.lines.map((line) => ({ invoice_no: invoiceNo, ...line })));
          batchLines += invoice.lines.length;
          sent += invoice.lines.length;
        }
        if (batch.length > 0) {
          batches.push(batch);
          bodies.push(body);
        }
        batches.forEach((entries, i) => {
          tally.requests++;
          inFlight.push(
            request(writeAgent, base, 'POST', '/api/purchases', JSON.stringify({ lines: bodies[i] })).then(
              ({ status, body: answer }) => {
                const at = performance.now();
                postLatencies.push(at - scheduled);
                if (status === 202) {
                  const result = JSON.parse(answer) as {
                    accepted: number;
                    duplicates: number;
                    dropped: unknown[];
                  };
                  tally.accepted += result.accepted;
                  tally.duplicates += result.duplicates;
                  tally.dropped += result.dropped.length;
                  for (const entry of entries) {
                    entry.acceptedAt = at;
                    watched.set(entry.invoiceNo, entry);
                  }
                } else {
                  tally.failed++;
                  const key = `${status} ${answer.slice(0, 120)}`;
                  tally.failures.set(key, (tally.failures.get(key) ?? 0) + 1);
                }
              },
            ),
          );
        });
      }
      await Promise.all(inFlight);
      writeAgent.destroy();
    })();

    // The reader: GET recommendations for random customers, held at READ_RATE (open loop).
    const readAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
    const reads = { latencies: [] as number[], errors: new Map<number, number>() };
    const reader = (async () => {
      const inFlight: Promise<void>[] = [];
      const count = Math.round(READ_RATE * SECONDS);
      let sent = 0;
      while (sent < count && posting) {
        const due = Math.min(count, Math.floor(((performance.now() - started) / 1000) * READ_RATE) + 1);
        while (sent < due) {
          const scheduled = started + (sent++ * 1000) / READ_RATE;
          const id = customers[Math.floor(Math.random() * customers.length)]!;
          inFlight.push(
            request(readAgent, base, 'GET', `/api/users/${id}/recommendations?top_n=12`).then(
              ({ status }) => {
                if (status === 200) reads.latencies.push(performance.now() - scheduled);
                else reads.errors.set(status, (reads.errors.get(status) ?? 0) + 1);
              },
            ),
          );
        }
        await sleep(1);
      }
      await Promise.all(inFlight);
      readAgent.destroy();
    })();

    // The refresh queue's depth, every second until the lag is watched no more.
    let watching = true;
    const sampler = (async () => {
      while (watching) {
        const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
        depths.push(Object.values(counts).reduce((a, b) => a + b, 0));
        await sleep(started + depths.length * 1_000 - performance.now());
      }
    })();

    // The lag: accepted invoices applied to their customer's purchases, whose list is then current (computed
    // from the customer's version after it and the model's version of now; a purchase of products bought
    // before leaves the version, and the list, as they were).
    let lastPost = Infinity;
    const watcher = (async () => {
      for (;;) {
        const pending = [...watched.keys()];
        if (pending.length > 0) {
          const { rows } = await db.query<{ invoice_no: string; db_ms: number }>(
            `SELECT i.invoice_no,
                    extract(epoch FROM greatest(r.computed_at, i.applied_at) - i.recorded_at) * 1000 AS db_ms
               FROM posted_invoices i
               JOIN customers c ON c.customer_id = i.customer_id
               JOIN user_recommendations r ON r.customer_id = i.customer_id AND r.model = $2
                AND r.customer_version = c.version
               JOIN model_versions m ON m.model = r.model AND m.version = r.model_version
              WHERE i.invoice_no = ANY ($1::text[]) AND i.applied_at IS NOT NULL`,
            [pending, served.name],
          );
          const now = performance.now();
          for (const row of rows) {
            const entry = watched.get(row.invoice_no)!;
            entry.seenMs = now - entry.acceptedAt!;
            entry.dbMs = Number(row.db_ms);
            watched.delete(row.invoice_no);
          }
        }
        if (!posting && (watched.size === 0 || performance.now() - lastPost > LAG_TIMEOUT_MS)) return;
        await sleep(TICK_MS);
      }
    })();

    await writer;
    lastPost = performance.now();
    const postingSeconds = (lastPost - started) / 1000;
    const depthAtEnd = depths.at(-1) ?? 0;
    posting = false;
    await reader;
    await watcher;
    watching = false;
    await sampler;
    const caughtUp = (performance.now() - lastPost) / 1000;
    const cpu = {
      gateway: cpuMs(cpuPids.gateway) - cpuBefore.gateway,
      recommendation: cpuMs(cpuPids.recommendation) - cpuBefore.recommendation,
      // Backends opened during the run count whole; those closed during it are lost (the pools keep theirs).
      postgres: backendsOf(database).reduce(
        (sum, pid) => sum + Math.max(0, cpuMs(pid) - (backendsBefore.get(pid) ?? 0)),
        0,
      ),
    };
    const machine = machineCpu();
    const elapsed = (performance.now() - started) / 1000;
    const share = (x: number) => `${((x / 1000 / elapsed) * 100).toFixed(0)}%`;

    // Exactly once: every invoice's lines in Postgres, against what was posted and accepted.
    const { rows: stored } = await db.query<{ invoice_no: string; n: number; applied: boolean }>(
      `SELECT i.invoice_no, count(l.line_id)::int AS n, i.applied_at IS NOT NULL AS applied
         FROM posted_invoices i LEFT JOIN posted_lines l USING (invoice_no)
        WHERE i.invoice_no LIKE $1 || '%' GROUP BY i.invoice_no, i.applied_at`,
      [prefix],
    );
    const inDb = new Map(stored.map((row) => [row.invoice_no, row]));
    const linesInDb = stored.reduce((sum, row) => sum + row.n, 0);
    let doubled = 0;
    let missing = 0;
    let unacknowledged = 0;
    let unapplied = 0;
    for (const entry of posted) {
      const row = inDb.get(entry.invoiceNo);
      if (entry.acceptedAt === undefined) {
        if (row) unacknowledged += row.n;
        continue;
      }
      const n = row?.n ?? 0;
      if (n > entry.lines) doubled += n - entry.lines;
      if (n < entry.lines) missing += entry.lines - n;
      if (row && !row.applied) unapplied++;
    }
    const acceptedInvoices = posted.filter((entry) => entry.acceptedAt !== undefined);
    const acceptedLines = acceptedInvoices.reduce((sum, entry) => sum + entry.lines, 0);
    const exactlyOnce =
      doubled === 0 &&
      missing === 0 &&
      unacknowledged === 0 &&
      acceptedLines === tally.accepted &&
      linesInDb === tally.accepted;
    // Purchase jobs the planner queued again as lost (invoices unapplied 10 s after their commit; their job
    // ids name the minute: refreshPurchasesJobId(customer, `late-<minute>`)), waiting or done.
    const lateBatches = new Set<string>();
    for (let minute = Math.floor(runStarted / 60_000); minute <= Math.floor(Date.now() / 60_000); minute++) {
      lateBatches.add(createHash('sha256').update(`late-${minute}`).digest('hex').slice(0, 16));
    }
    const requeued = (await queue.getJobs(['wait', 'active', 'delayed', 'completed', 'failed'])).filter(
      (job) => job?.id?.startsWith('purchases-') && lateBatches.has(job.id.split('-').at(-1)!),
    ).length;
    const trainedAfter = (
      await db.query<{ t: string | null }>('SELECT max(trained_at)::text AS t FROM recommender_models')
    ).rows[0]!.t;

    const sentLines = posted.reduce((sum, entry) => sum + entry.lines, 0);
    console.log(
      `\nposting   ${sentLines.toLocaleString('en-GB')} lines in ${posted.length.toLocaleString('en-GB')} invoices, ` +
        `${tally.requests} requests in ${postingSeconds.toFixed(1)} s ` +
        `(${Math.round(sentLines / postingSeconds).toLocaleString('en-GB')} lines/s); answers ${quantiles(postLatencies)}; ` +
        `failed requests ${tally.failed}   load ${load()}`,
    );
    for (const [failure, n] of tally.failures) console.log(`          ${n} x ${failure}`);
    console.log(
      `lines     accepted ${tally.accepted.toLocaleString('en-GB')}, duplicates ${tally.duplicates}, ` +
        `dropped ${tally.dropped}, in db ${linesInDb.toLocaleString('en-GB')} ` +
        `(${stored.length.toLocaleString('en-GB')} invoices; twice ${doubled}, missing ${missing}, ` +
        `in db without a 202 ${unacknowledged}; invoices not applied ${unapplied}); ` +
        `exactly once: ${exactlyOnce ? 'yes' : 'no'}`,
    );
    const seen = acceptedInvoices.filter((entry) => entry.seenMs !== undefined);
    console.log(
      `lag       202 -> customer's list computed with the invoice, ${seen.length.toLocaleString('en-GB')} of ` +
        `${acceptedInvoices.length.toLocaleString('en-GB')} invoices (polled every ${TICK_MS} ms): ` +
        `${quantiles(seen.map((entry) => entry.seenMs!))}`,
    );
    console.log(
      `          in Postgres (list current - invoice recorded_at): ${quantiles(seen.map((entry) => entry.dbMs!))}`,
    );
    const metrics = await purchaseMetrics(metricsPort);
    console.log(`          the service's histogram: ${metrics.text}`);
    console.log(
      `          purchase jobs done: ${(metrics.jobs / (postingSeconds + caughtUp)).toFixed(1)}/s from the first ` +
        `post to the last list (${(posted.length / postingSeconds).toFixed(1)} invoices/s posted); ` +
        `queued again by the planner as lost: ${requeued}`,
    );
    console.log(
      `          the last list ${caughtUp.toFixed(1)} s after the last post; goal p95 <= 1 s: ` +
        `${
          percentile(
            seen.map((entry) => entry.seenMs!),
            95,
          ) <= 1000 && seen.length === acceptedInvoices.length
            ? 'met'
            : 'missed'
        }`,
    );
    const readErrors = [...reads.errors].reduce((sum, [, n]) => sum + n, 0);
    console.log(
      `reads     ${reads.latencies.length.toLocaleString('en-GB')} answered ` +
        `(${Math.round(reads.latencies.length / postingSeconds)} req/s): ${quantiles(reads.latencies)}; errors ${readErrors}` +
        (readErrors > 0
          ? ` (${[...reads.errors].map(([status, n]) => `${n} x ${status || 'no answer'}`).join(', ')})`
          : ''),
    );
    console.log(
      `refresh queue depth (waiting + active): max ${depths.length > 0 ? Math.max(...depths) : 0}, ` +
        `at the last post ${depthAtEnd}; every 10 s from the first post: ` +
        depths.filter((_, i) => i % 10 === 0).join(' '),
    );
    console.log(
      `CPU over ${elapsed.toFixed(0)} s (of one core): recommendation ${share(cpu.recommendation)}, ` +
        `gateway ${share(cpu.gateway)}, this database's Postgres backends ${share(cpu.postgres)}; machine busy ` +
        `${machine.total > machineBefore.total ? (((machine.busy - machineBefore.busy) / (machine.total - machineBefore.total)) * 100).toFixed(0) : '?'}% ` +
        `of ${availableParallelism()} cores; models retrained during the run: ${trainedAfter !== trainedBefore ? 'yes' : 'no'}   load ${load()}`,
    );
    // The embedder runs, as in production, before the product is put (its start is not part of the figure).
    const embedder = startProcess('services/embedder/dist/main.js', [], {
      ...env,
      LOG_LEVEL: 'log',
      METRICS_PORT: String(await freePort()),
    });
    running.push(embedder);
    await embedder.waitFor(/consuming \\?"embeddings/, 60_000);
    await newProduct(db, base, `N${run}`.toUpperCase(), embedder);
    if (!exactlyOnce) throw new Error('the accepted lines are not in Postgres exactly once');
  } finally {
    for (const p of running.splice(0)) await stop(p);
    await queue.close();
    await db.end();
  }
}

runBench('bench:events', main);
