#!/usr/bin/env node
/**
 * `npm run bench:api`: the recommendations endpoint through the gateway, 32 connections, on the real
 * catalog in the bench database (BENCH_DATABASE_URL, default retail_bench; loaded, embedded and trained first
 * when it is not). The recommendation service and the gateway run as their own processes, as in production,
 * once per served model (BENCH_MODELS, default copurchase,hybrid,description), BENCH_RUNS times (default 2):
 *   (a)  every one of the 4,339 users once, in random order, every list ready (after the service's refresh);
 *   (a') the same right after a change of every vector of the served model (each row rewritten in one
 *        transaction, as a training or an embedding run does): the kept lists answer (marked `refreshing`)
 *        while the refresh jobs compute every list again; how long that refresh takes under this load is
 *        printed too;
 *   (b)  20 s of users drawn at random, as fast as the 32 connections go, then (b') held at 1,000 requests/s
 *        (open loop, evenly spaced: see heldRate);
 *   (c)  once per model, what the rate limiter costs: a second gateway without it (RATE_LIMIT_READS_PER_MINUTE=0)
 *        beside the first, on the same recommendation service, and LIMITER_ROUNDS rounds of 10 s of random users
 *        through each in turn (ABAB…, so that a change of the machine's load falls on both): the medians of
 *        req/s and of the gateway's CPU a request, with and without.
 * Prints the machine's load average before each run. The description model comes last: rewriting its vectors
 * makes the co-purchase and hybrid models stale, and a service serving them would retrain them (a minute or two
 * of CPU) in the middle of their runs; the next invocation retrains them first (`npm run train -- --wait`).
 */
import http from 'node:http';
import autocannon, { type Result } from 'autocannon';
import { LOCAL_EMBEDDING_MODEL, connectDatabase, servedModelOf, type RecommenderKind } from '@retail/common';
import { freePort, startProcess, stop, type RunningProcess } from '@retail/testing';
import {
  BENCH_DATABASE_URL as DATABASE_URL,
  changeEveryVector,
  cpuMs,
  load,
  percentile,
  prepareBenchDatabase,
  runBench,
  untilEveryListCurrent,
  untilGatewayReady,
} from './bench-kit.ts';

const CONNECTIONS = 32;
const LIMITER_ROUNDS = Number(process.env.BENCH_LIMITER_ROUNDS ?? 5);
const DESCRIPTION_MODEL = LOCAL_EMBEDDING_MODEL;
const RUNS = Number(process.env.BENCH_RUNS ?? 2);
const MODELS = (process.env.BENCH_MODELS ?? 'copurchase,hybrid,description').split(',') as RecommenderKind[];

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function report(label: string, result: Result & { cpu: string }): void {
  const errors = result.errors + result.timeouts + result.non2xx;
  console.log(
    `  ${label.padEnd(44)} ${Math.round(result.requests.average).toLocaleString('en-GB').padStart(6)} req/s   ` +
      `p50 ${String(result.latency.p50).padStart(3)} ms   p99 ${String(result.latency.p99).padStart(3)} ms   ` +
      `max ${String(result.latency.max).padStart(4)} ms   errors ${errors}   (${result.requests.total} requests)\n` +
      `  ${''.padEnd(44)} ${result.cpu}`,
  );
}

/**
 * An open-loop load held at `rate` requests/s for `seconds`: request i is sent at i / rate s whatever the
 * earlier ones are doing (keep-alive sockets, as many as needed), and its latency counts from that scheduled
 * time, so a slow answer that delays the next sends shows in their latencies too (no coordinated omission).
 * autocannon's rate option cannot do this: each connection sends its quota for the second back to back and
 * then waits for the next second, which measures bursts, not a steady rate.
 */
async function heldRate(
  base: string,
  rate: number,
  seconds: number,
  path: () => string,
): Promise<{ latencies: number[]; errors: number; seconds: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const url = new URL(base);
  const total = rate * seconds;
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  const send = (scheduled: number) =>
    new Promise<void>((resolve) => {
      const request = http.get({ host: url.hostname, port: url.port, path: path(), agent }, (response) => {
        response.resume();
        response.on('end', () => {
          if (response.statusCode === 200) latencies.push(performance.now() - scheduled);
          else errors++;
          resolve();
        });
      });
      request.on('error', () => {
        errors++;
        resolve();
      });
    });
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate) + 1);
    while (sent < due) inFlight.push(send(started + (sent++ * 1000) / rate));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await Promise.all(inFlight);
  agent.destroy();
  return { latencies, errors, seconds: (performance.now() - started) / 1000 };
}

/**
 * Runs `work` and prints what it cost the gateway and the recommendation service in CPU per request: a
 * figure the other sessions on this machine disturb far less than the latencies.
 */
async function withCpu<T>(
  processes: { gateway: RunningProcess; recommendation: RunningProcess },
  work: () => Promise<T>,
  requests: (result: T) => number,
): Promise<T & { cpu: string }> {
  const before = [cpuMs(processes.gateway.pid), cpuMs(processes.recommendation.pid)];
  const result = await work();
  const gateway = (cpuMs(processes.gateway.pid) - before[0]!) / requests(result);
  const recommendation = (cpuMs(processes.recommendation.pid) - before[1]!) / requests(result);
  return {
    ...result,
    cpu: `CPU a request: gateway ${(gateway * 1000).toFixed(0)} µs, recommendation ${(recommendation * 1000).toFixed(0)} µs`,
  };
}

function reportHeld(
  label: string,
  result: { latencies: number[]; errors: number; seconds: number; cpu: string },
): void {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  const at = (p: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0);
  console.log(
    `  ${label.padEnd(44)} ${Math.round(sorted.length / result.seconds)
      .toLocaleString('en-GB')
      .padStart(
        6,
      )} req/s   p50 ${String(at(0.5)).padStart(3)} ms   p99 ${String(at(0.99)).padStart(3)} ms   ` +
      `max ${String(at(1)).padStart(4)} ms   errors ${result.errors}   (${sorted.length} requests)\n` +
      `  ${''.padEnd(44)} ${result.cpu}`,
  );
}

/**
 * (c): the same load through the gateway with the rate limiter (`limited`) and through a second gateway
 * without it, in alternating rounds; prints the medians and the difference.
 */
async function limiterCost(
  limited: RunningProcess,
  ports: Record<string, string>,
  load10s: (url: string) => Promise<Result>,
): Promise<void> {
  const port = String(await freePort());
  const unlimited = startProcess('services/gateway/dist/main.js', [], {
    ...ENV,
    ...ports,
    GATEWAY_PORT: port,
    RATE_LIMIT_READS_PER_MINUTE: '0',
  });
  try {
    const url = `http://127.0.0.1:${port}`;
    await untilGatewayReady(url, unlimited);
    const sides = [
      { label: 'with the limiter', url: `http://127.0.0.1:${ports.GATEWAY_PORT}`, gateway: limited },
      { label: 'without it', url, gateway: unlimited },
    ];
    const seen = new Map(sides.map((side) => [side, { rates: [] as number[], cpu: [] as number[] }]));
    for (const side of sides) await load10s(side.url); // warm both
    console.log(
      `  (c) the rate limiter's cost: ${LIMITER_ROUNDS} rounds of 10 s through each gateway in turn`,
    );
    for (let round = 0; round < LIMITER_ROUNDS; round++) {
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) {
        const before = cpuMs(side.gateway.pid);
        const result = await load10s(side.url);
        const errors = result.errors + result.timeouts + result.non2xx;
        if (errors > 0) throw new Error(`${errors} failed requests ${side.label}`);
        seen.get(side)!.rates.push(result.requests.average);
        seen.get(side)!.cpu.push(((cpuMs(side.gateway.pid) - before) * 1000) / result.requests.total);
      }
    }
    const median = (values: number[]) => percentile(values, 50);
    for (const side of sides) {
      const { rates, cpu } = seen.get(side)!;
      console.log(
        `      ${side.label.padEnd(18)} median ${Math.round(median(rates)).toLocaleString('en-GB').padStart(6)} req/s` +
          `   gateway CPU a request ${median(cpu).toFixed(0)} µs   (rounds: ${rates.map((r) => Math.round(r)).join(', ')} req/s)`,
      );
    }
    const [on, off] = sides.map((side) => seen.get(side)!);
    const throughput = (1 - median(on!.rates) / median(off!.rates)) * 100;
    const cpu = (median(on!.cpu) / median(off!.cpu) - 1) * 100;
    console.log(
      `      the limiter costs ${throughput.toFixed(1)} % of the throughput and ${cpu.toFixed(1)} % more gateway CPU a request`,
    );
  } finally {
    await stop(unlimited);
  }
}

const ENV = {
  DATABASE_URL,
  QUEUE_PREFIX: 'retail-bench',
  EMBEDDING_PROVIDER: 'local',
  NODE_ENV: 'production',
  LOG_LEVEL: 'warn',
  // One load generator is one client: its reads are counted (the limiter's cost is measured) under a limit
  // it never reaches; RATE_LIMIT_READS_PER_MINUTE=0 measures without the limiter.
  RATE_LIMIT_READS_PER_MINUTE: process.env.RATE_LIMIT_READS_PER_MINUTE ?? '10000000',
};

async function main(): Promise<void> {
  await prepareBenchDatabase(ENV, { train: MODELS.some((kind) => kind !== 'description') });
  const db = await connectDatabase(DATABASE_URL, { max: 2, applicationName: 'bench-api' });
  const running: RunningProcess[] = [];
  const stopAll = async () => {
    for (const p of running.splice(0)) await stop(p);
  };
  try {
    const users = (await db.query<{ id: string }>('SELECT customer_id::text AS id FROM customers')).rows.map(
      (r) => r.id,
    );
    for (const kind of MODELS) {
      const model = servedModelOf(kind, DESCRIPTION_MODEL).name;
      const ports = { RECOMMENDATION_PORT: String(await freePort()), GATEWAY_PORT: String(await freePort()) };
      const base = `http://127.0.0.1:${ports.GATEWAY_PORT}`;
      const recommendation = startProcess('services/recommendation/dist/main.js', [], {
        ...ENV,
        ...ports,
        RECOMMENDER_MODEL: kind,
        LOG_LEVEL: 'log',
      });
      running.push(recommendation);
      const gateway = startProcess('services/gateway/dist/main.js', [], { ...ENV, ...ports });
      running.push(gateway);
      await recommendation.waitFor(/listening on tcp/, 60_000);
      await untilGatewayReady(base, gateway);
      // Every list computed once (the refresh jobs after the start).
      await untilEveryListCurrent(db, model);
      console.log(`\n${kind} (${model})`);

      // Warms the processes (code paths, connections) without touching any user's list.
      const warmUp = () =>
        autocannon({
          url: base,
          connections: CONNECTIONS,
          duration: 3,
          requests: [
            {
              setupRequest: (request) => ({
                ...request,
                path: `/api/users?query=${Math.floor(Math.random() * 90) + 10}&limit=1`,
              }),
            },
          ],
        });
      const everyUserOnce = () => {
        const queue = shuffle([...users]);
        return autocannon({
          url: base,
          connections: CONNECTIONS,
          amount: queue.length,
          requests: [
            {
              setupRequest: (request) => ({ ...request, path: `/api/users/${queue.pop()}/recommendations` }),
            },
          ],
        });
      };
      const randomUsers = (url = base, duration = 20) =>
        autocannon({
          url,
          connections: CONNECTIONS,
          duration,
          requests: [
            {
              setupRequest: (request) => ({
                ...request,
                path: `/api/users/${users[Math.floor(Math.random() * users.length)]}/recommendations`,
              }),
            },
          ],
        });

      for (let run = 1; run <= RUNS; run++) {
        await warmUp();
        console.log(`  load average ${load()}`);
        const processes = { gateway, recommendation };
        const counted = (work: () => Promise<Result>) =>
          withCpu(processes, work, (result) => result.requests.total);
        report(`(a) every user once, lists ready`, await counted(everyUserOnce));
        await warmUp();
        console.log(`  load average ${load()}`);
        await changeEveryVector(db, model, kind);
        const changed = performance.now();
        const refreshed = untilEveryListCurrent(db, model).then(() => performance.now() - changed);
        report(`(a') every user once, right after a change`, await counted(everyUserOnce));
        console.log(
          `  every list current again ${((await refreshed) / 1000).toFixed(1)} s after the change (under that load)`,
        );
        console.log(`  load average ${load()}`);
        report('(b) 20 s of random users, as fast as it goes', await counted(randomUsers));
        // The same load held at the goal's rate: the latency a client sees when the system is not saturated.
        reportHeld(
          "(b') 20 s of random users at 1,000 req/s",
          await withCpu(
            processes,
            () =>
              heldRate(
                base,
                1_000,
                20,
                () => `/api/users/${users[Math.floor(Math.random() * users.length)]}/recommendations`,
              ),
            (held) => held.latencies.length + held.errors,
          ),
        );
      }
      if (kind === MODELS[0]) await limiterCost(gateway, ports, (url) => randomUsers(url, 10));
      await stopAll();
    }
  } finally {
    await stopAll();
    await db.end();
  }
}

runBench('bench:api', main);
