#!/usr/bin/env node
/**
 * `npm run bench:scale`: can the recommendations be served from an approximate (HNSW) index when the
 * catalog is 70x larger than the real one? Goal: p99 < 10 ms with recall@12 >= 0.95.
 *
 * Method
 *   1. Source: the real catalog's vectors (merchandise products of one model, SCALE_MODEL, default
 *      local-hashed-ngrams-v1) and the real purchases, read from BENCH_DATABASE_URL (default
 *      retail_bench; `npm run bench:embed` fills it).
 *   2. Synthetic catalog, in its own database (SCALE_DATABASE_URL, default retail_scale, created when
 *      missing; its table is dropped and rebuilt on every run): SCALE_PRODUCTS products (default 250,000).
 *      The real products are kept unchanged (so real purchases map to themselves); every other product
 *      is a copy of a real one (round robin) plus Gaussian noise of norm SCALE_NOISE (default 0.25,
 *      i.e. sigma = 0.25 / sqrt(1024) per component), L2-normalised: a copy has cosine ~0.97 with its
 *      original, while a real product's nearest real neighbour has a median cosine of ~0.69, so
 *      neighbourhoods keep the real catalog's structure and every real product becomes a tight cluster
 *      of ~68 variants. Loaded by binary COPY (FREEZE) into a table shaped like product_embeddings
 *      (float32 vector(1024), PLAIN storage).
 *   3. Users: SCALE_USERS (default 200) customers drawn (deterministically) from the real purchases.
 *      User vector = L2-normalised mean of the vectors of the merchandise they bought (as the
 *      recommendation repository computes it); filter = the product ids they bought.
 *   4. Ground truth, before any index exists: exact top 12 by a (parallel) sequential scan with the same
 *      filter, `ORDER BY embedding <#> user_vector` (inner product of unit vectors = cosine). Its
 *      latency is printed too: it is what the exact repository query costs at this size.
 *   5. Index: HNSW on the half-precision copy of the vectors, an expression index
 *      `(embedding::halfvec(1024)) halfvec_ip_ops` (half the memory of a float32 graph; the table keeps
 *      the float32 vectors). Built in memory (maintenance_work_mem) with one parallel worker plus the
 *      leader (2 cores); progress from pg_stat_progress_create_index.
 *   6. Queries, one connection, as the service would send them (parameterised, planned each time):
 *      the index scan yields candidates in halfvec order, the purchased products are filtered out, and
 *      the first SCALE_CANDIDATES (default 24) survivors are re-ranked by their exact float32 score.
 *      The filter runs after the index scan, so pgvector 0.8's iterative scan (relaxed_order) resumes
 *      the graph search until enough candidates pass it; relaxed order is enough because the outer
 *      query sorts the candidates exactly anyway (strict_order would only discard work). For each
 *      hnsw.ef_search of SCALE_EF_SEARCH (default 40,100,200,400): one untimed warm-up pass over all users,
 *      then SCALE_ROUNDS (default 3) timed passes; p50/p99 over every timed query, and recall@12 =
 *      |HNSW top 12 ∩ exact top 12| / 12 averaged over the users. A control row without iterative scan
 *      shows what the filter does to a plain index scan.
 *
 * Not part of `npm test`: it takes several minutes (the index build dominates) and measures time.
 */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  connectDatabase,
  redactUrl,
  vectorLiteral,
  type Database,
  type DatabaseClient,
} from '@retail/common';
import { from as copyFrom } from 'pg-copy-streams';

const DIM = 1024;
const TOP_N = 12;
const TABLE = 'scale_products';
const INDEX = 'scale_products_embedding_hnsw';
const PROGRESS_EVERY_MS = 15_000;

/** Everything the run can be tuned with, from the environment (validated before any work starts). */
interface Settings {
  realUrl: string;
  scaleUrl: string;
  model: string;
  products: number;
  noise: number;
  users: number;
  seed: string;
  m: number;
  efConstruction: number;
  maintenanceWorkMem: string;
  buildWorkers: number;
  efSearch: number[];
  candidates: number;
  rounds: number;
}

/** Raised for a setting the run cannot use: printed as is, without a stack trace. */
class SettingsError extends Error {}

function intSetting(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SettingsError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const noiseRaw = env.SCALE_NOISE ?? '0.25';
  const noise = Number(noiseRaw);
  if (!Number.isFinite(noise) || noise < 0 || noise > 2) {
    throw new SettingsError(`SCALE_NOISE must be a number from 0 to 2 (the noise norm), got "${noiseRaw}"`);
  }
  const efRaw = env.SCALE_EF_SEARCH ?? '40,100,200,400';
  const efSearch = efRaw.split(',').map((part) => Number(part.trim()));
  if (efSearch.length === 0 || efSearch.some((ef) => !Number.isInteger(ef) || ef < 1 || ef > 1000)) {
    throw new SettingsError(
      `SCALE_EF_SEARCH must be a comma-separated list of integers 1..1000, got "${efRaw}"`,
    );
  }
  const maintenanceWorkMem = env.SCALE_MAINTENANCE_WORK_MEM ?? '4GB';
  if (!/^\d+(kB|MB|GB)$/.test(maintenanceWorkMem)) {
    throw new SettingsError(
      `SCALE_MAINTENANCE_WORK_MEM must look like 512MB or 4GB, got "${maintenanceWorkMem}"`,
    );
  }
  const m = intSetting(env, 'SCALE_HNSW_M', 16, 2, 100);
  const settings: Settings = {
    realUrl: env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/retail_bench',
    scaleUrl: env.SCALE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/retail_scale',
    model: env.SCALE_MODEL ?? 'local-hashed-ngrams-v1',
    products: intSetting(env, 'SCALE_PRODUCTS', 250_000, 1, 50_000_000),
    noise,
    users: intSetting(env, 'SCALE_USERS', 200, 1, 10_000),
    seed: env.SCALE_SEED ?? 'scale-bench-1',
    m,
    efConstruction: intSetting(env, 'SCALE_HNSW_EF_CONSTRUCTION', 64, 2 * m, 1000),
    maintenanceWorkMem,
    buildWorkers: intSetting(env, 'SCALE_BUILD_WORKERS', 1, 0, 16),
    efSearch,
    candidates: intSetting(env, 'SCALE_CANDIDATES', 2 * TOP_N, TOP_N, 1000),
    rounds: intSetting(env, 'SCALE_ROUNDS', 3, 1, 100),
  };
  if (settings.realUrl === settings.scaleUrl) {
    throw new SettingsError(
      'SCALE_DATABASE_URL must differ from BENCH_DATABASE_URL (its tables are dropped)',
    );
  }
  return settings;
}

// ---------------------------------------------------------------------------------------------------
// Small helpers

/** sfc32: a small, fast, seedable PRNG (the synthetic catalog is the same on every run). */
function seededRandom(seed: string): () => number {
  let h = 1779033703 ^ seed.length;
  for (let i = 0; i < seed.length; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  const next = (): number => {
    h = Math.imul(h ^ (h >>> 16), 2246822507);
    h = Math.imul(h ^ (h >>> 13), 3266489909);
    return (h ^= h >>> 16) >>> 0;
  };
  let a = next();
  let b = next();
  let c = next();
  let d = next();
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** Fills `out` with independent standard normal values (Box-Muller on `random`). */
function fillGaussian(out: Float64Array, random: () => number): void {
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - random())); // 1 - u is in (0, 1]: no log(0)
    const theta = 2 * Math.PI * random();
    out[i] = r * Math.cos(theta);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(theta);
  }
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const millis = (ms: number): string => ms.toFixed(2);
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
const count = (n: number): string => n.toLocaleString('en-GB');

/** Runs `SET name = value` for the session, with the value as a parameter (never spliced into SQL). */
async function setting(client: DatabaseClient, name: string, value: string | number): Promise<void> {
  await client.query('SELECT set_config($1, $2, false)', [name, String(value)]);
}

// ---------------------------------------------------------------------------------------------------
// 1. The real catalog and users

interface RealCatalog {
  ids: string[];
  vectors: Float32Array[];
}

interface BenchUser {
  customerId: number;
  /** Merchandise product ids bought that have a vector: the filter of every query. */
  bought: string[];
  /** L2-normalised mean of the vectors of `bought`, as pgvector's text form. */
  vector: string;
}

async function readRealData(settings: Settings): Promise<{ catalog: RealCatalog; users: BenchUser[] }> {
  const db = await connectDatabase(settings.realUrl, { max: 1, applicationName: 'bench-scale' });
  try {
    const { rows: products } = await db.query<{ product_id: string; embedding: Float32Array }>(
      `SELECT e.product_id, e.embedding
         FROM product_embeddings e JOIN products p ON p.product_id = e.product_id AND p.is_merchandise
        WHERE e.model = $1
        ORDER BY e.product_id`,
      [settings.model],
    );
    if (products.length === 0) {
      throw new SettingsError(
        `${redactUrl(settings.realUrl)} has no product vectors of model ${settings.model}: ` +
          'run `npm run bench:embed` first (or point BENCH_DATABASE_URL at a database with vectors)',
      );
    }
    // The same user vector as RecommendationsRepository.computeLists; users in a seeded random order.
    const { rows: users } = await db.query<{ customer_id: number; bought: string[]; vector: Float32Array }>(
      `SELECT ui.customer_id, array_agg(ui.product_id ORDER BY ui.product_id) AS bought,
              l2_normalize(avg(e.embedding)) AS vector
         FROM user_items ui
         JOIN products p ON p.product_id = ui.product_id AND p.is_merchandise
         JOIN product_embeddings e ON e.model = $1 AND e.product_id = ui.product_id
        GROUP BY ui.customer_id
        ORDER BY md5(ui.customer_id::text || $2), ui.customer_id
        LIMIT $3`,
      [settings.model, settings.seed, settings.users],
    );
    return {
      catalog: { ids: products.map((row) => row.product_id), vectors: products.map((row) => row.embedding) },
      users: users.map((row) => ({
        customerId: row.customer_id,
        bought: row.bought,
        vector: vectorLiteral(row.vector),
      })),
    };
  } finally {
    await db.end();
  }
}

// ---------------------------------------------------------------------------------------------------
// 2. The synthetic catalog

/** Creates the scale database (from the `postgres` database) when missing, and the vector extension. */
async function prepareScaleDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (name === '') throw new SettingsError(`SCALE_DATABASE_URL has no database name: ${redactUrl(url)}`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const adminDb = await connectDatabase(admin.toString(), { max: 1, applicationName: 'bench-scale' });
  try {
    const { rowCount } = await adminDb.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await adminDb.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      console.log(`created database ${name}`);
    }
  } finally {
    await adminDb.end();
  }
  const db = await connectDatabase(url, { max: 1, applicationName: 'bench-scale' });
  try {
    await db.query('CREATE EXTENSION IF NOT EXISTS vector');
  } finally {
    await db.end();
  }
}

interface LoadResult {
  copyMs: number;
  keyMs: number;
  tableBytes: number;
}

/**
 * Generates the catalog and streams it into a fresh table by binary COPY: row i is a variant of real
 * product i mod R (the first R rows are the real products themselves). Binary COPY sends each vector
 * as 4 KiB of float32 instead of ~11 KiB of decimal text, and costs no float formatting in Node.
 */
async function loadCatalog(db: Database, catalog: RealCatalog, settings: Settings): Promise<LoadResult> {
  const real = catalog.ids.length;
  const sigma = settings.noise / Math.sqrt(DIM); // per component: the noise vector's norm is ~noise
  const random = seededRandom(settings.seed);
  const gaussian = new Float64Array(DIM);
  const variant = new Float64Array(DIM);
  const encoder = new TextEncoder();

  const client = await db.connect();
  try {
    const started = performance.now();
    await client.query('BEGIN');
    // Shaped like product_embeddings (the float32 vector is the system of record; PLAIN storage keeps
    // it inline, as migration 1732500000001 does), with the real product each row derives from.
    await client.query(`CREATE TABLE ${TABLE} (
        product_id        text         NOT NULL,
        source_product_id text         NOT NULL,
        embedding         vector(${DIM}) NOT NULL)`);
    await client.query(`ALTER TABLE ${TABLE} ALTER COLUMN embedding SET STORAGE PLAIN`);
    // FREEZE: the table was created in this transaction, so rows are written frozen (no hint-bit
    // rewrites of 2 GB of pages on the first reads).
    const stream = client.query(
      copyFrom(
        `COPY ${TABLE} (product_id, source_product_id, embedding) FROM STDIN WITH (FORMAT binary, FREEZE)`,
      ),
    );
    const done = finished(stream);
    done.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"

    const chunkBytes = 4 * 2 ** 20;
    let buffer = Buffer.allocUnsafe(chunkBytes);
    let view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let offset = 0;
    const flush = async (): Promise<void> => {
      if (offset === 0) return;
      const full = stream.write(buffer.subarray(0, offset));
      buffer = Buffer.allocUnsafe(chunkBytes); // the stream keeps the written chunk: never reuse it
      view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
      offset = 0;
      if (!full) await once(stream, 'drain');
    };
    const writeText = (value: string): void => {
      const written = encoder.encodeInto(value, buffer.subarray(offset + 4)).written;
      view.setInt32(offset, written);
      offset += 4 + written;
    };

    // Binary COPY header: signature, flags, header extension length.
    Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1').copy(buffer, 0);
    view.setInt32(11, 0);
    view.setInt32(15, 0);
    offset = 19;

    const rowBytesMax = 2 + 3 * 4 + 2 * 256 + 4 + 4 * DIM;
    const reportEvery = Math.ceil(settings.products / 5);
    for (let i = 0; i < settings.products; i++) {
      if (offset + rowBytesMax > chunkBytes) await flush();
      const source = i % real;
      const copyNo = Math.floor(i / real);
      const original = catalog.vectors[source]!;
      const sourceId = catalog.ids[source]!;
      view.setInt16(offset, 3); // fields
      offset += 2;
      writeText(copyNo === 0 ? sourceId : `${sourceId}~${copyNo}`);
      writeText(sourceId);
      // pgvector's binary vector: int16 dimensions, int16 unused, float4 values (network byte order).
      view.setInt32(offset, 4 + 4 * DIM);
      view.setInt16(offset + 4, DIM);
      view.setInt16(offset + 6, 0);
      offset += 8;
      if (copyNo === 0) {
        for (let d = 0; d < DIM; d++) view.setFloat32(offset + 4 * d, original[d]!);
      } else {
        fillGaussian(gaussian, random);
        let norm2 = 0;
        for (let d = 0; d < DIM; d++) {
          const x = original[d]! + sigma * gaussian[d]!;
          variant[d] = x;
          norm2 += x * x;
        }
        const scale = 1 / Math.sqrt(norm2);
        for (let d = 0; d < DIM; d++) view.setFloat32(offset + 4 * d, variant[d]! * scale);
      }
      offset += 4 * DIM;
      if ((i + 1) % reportEvery === 0) {
        console.log(
          `  sent ${count(i + 1)} / ${count(settings.products)} (${seconds(performance.now() - started)})`,
        );
      }
    }
    view.setInt16(offset, -1); // trailer
    offset += 2;
    await flush();
    stream.end();
    await done;
    await client.query('COMMIT');
    const copyMs = performance.now() - started;

    const keyStarted = performance.now();
    await client.query(`ALTER TABLE ${TABLE} ADD PRIMARY KEY (product_id)`);
    await client.query(`ANALYZE ${TABLE}`);
    const keyMs = performance.now() - keyStarted;
    const { rows } = await client.query<{ bytes: number }>('SELECT pg_table_size($1::regclass) AS bytes', [
      TABLE,
    ]);
    return { copyMs, keyMs, tableBytes: rows[0]!.bytes };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

// ---------------------------------------------------------------------------------------------------
// 3. Exact search (ground truth) and the HNSW queries

const EXACT_SQL = `
  SELECT product_id FROM ${TABLE}
   WHERE product_id <> ALL($2::text[])
   ORDER BY embedding <#> $1::vector(${DIM}), product_id
   LIMIT ${TOP_N}`;

/**
 * The HNSW query: candidates in halfvec order from the index (the ORDER BY matches the index
 * expression), purchased products filtered out, survivors re-ranked by the exact float32 score.
 */
function hnswSql(candidates: number): string {
  return `
  SELECT product_id, -(embedding <#> $1::vector(${DIM})) AS score
    FROM (SELECT product_id, embedding
            FROM ${TABLE}
           WHERE product_id <> ALL($2::text[])
           ORDER BY embedding::halfvec(${DIM}) <#> $1::vector(${DIM})::halfvec(${DIM})
           LIMIT ${candidates}) AS candidates
   ORDER BY embedding <#> $1::vector(${DIM}), product_id
   LIMIT ${TOP_N}`;
}

interface Timed {
  latencies: number[];
  results: string[][];
}

/** Runs `sql` once per user on `client`, in user order, timing each round trip from Node. */
async function runQueries(client: DatabaseClient, sql: string, users: BenchUser[]): Promise<Timed> {
  const latencies: number[] = [];
  const results: string[][] = [];
  for (const user of users) {
    const started = performance.now();
    const { rows } = await client.query<{ product_id: string }>(sql, [user.vector, user.bought]);
    latencies.push(performance.now() - started);
    results.push(rows.map((row) => row.product_id));
  }
  return { latencies, results };
}

async function exactTopLists(db: Database, users: BenchUser[]): Promise<Timed> {
  const client = await db.connect();
  try {
    await setting(client, 'enable_indexscan', 'off');
    await setting(client, 'enable_bitmapscan', 'off');
    await setting(client, 'max_parallel_workers_per_gather', 1); // leader + 1 worker = the 2 cores
    const latencies: number[] = [];
    const results: string[][] = [];
    const step = Math.max(1, Math.ceil(users.length / 4));
    for (let i = 0; i < users.length; i += step) {
      const part = await runQueries(client, EXACT_SQL, users.slice(i, i + step));
      latencies.push(...part.latencies);
      results.push(...part.results);
      console.log(`  exact: ${results.length} / ${users.length} users`);
    }
    return { latencies, results };
  } finally {
    client.release();
  }
}

interface BuildResult {
  buildMs: number;
  indexBytes: number;
  notices: string[];
}

/** Builds the HNSW index, printing pg_stat_progress_create_index every PROGRESS_EVERY_MS. */
async function buildIndex(db: Database, settings: Settings): Promise<BuildResult> {
  const builder = await db.connect();
  const watcher = await db.connect();
  const notices: string[] = [];
  const onNotice = (notice: { message?: string }): void => {
    if (notice.message) {
      notices.push(notice.message);
      console.log(`  NOTICE: ${notice.message}`);
    }
  };
  builder.on('notice', onNotice);
  try {
    await setting(builder, 'maintenance_work_mem', settings.maintenanceWorkMem);
    await setting(builder, 'max_parallel_maintenance_workers', settings.buildWorkers);
    const { rows: pidRows } = await builder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = pidRows[0]!.pid;

    const started = performance.now();
    let settled = false;
    const building = builder
      .query(
        `CREATE INDEX ${INDEX} ON ${TABLE}
           USING hnsw ((embedding::halfvec(${DIM})) halfvec_ip_ops)
           WITH (m = ${settings.m}, ef_construction = ${settings.efConstruction})`,
      )
      .finally(() => {
        settled = true;
      });
    building.catch(() => undefined); // awaited below
    while (!settled) {
      const wake = new AbortController();
      await Promise.race([
        building.then(
          () => undefined,
          () => undefined,
        ),
        sleep(PROGRESS_EVERY_MS, undefined, { signal: wake.signal }).catch(() => undefined),
      ]);
      wake.abort();
      if (settled) break;
      const { rows } = await watcher.query<{
        phase: string;
        tuples_done: number;
        blocks_done: number;
        blocks_total: number;
        workers: number;
      }>(
        `SELECT p.phase, p.tuples_done, p.blocks_done, p.blocks_total,
                (SELECT count(*) FROM pg_stat_activity a WHERE a.leader_pid = p.pid AND a.pid <> p.pid) AS workers
           FROM pg_stat_progress_create_index p WHERE p.pid = $1`,
        [pid],
      );
      const row = rows[0];
      if (!row) continue;
      const elapsed = performance.now() - started;
      const blocks = row.blocks_total > 0 ? row.blocks_done / row.blocks_total : 0;
      const eta = blocks > 0.02 ? ` (heap scanned ${(100 * blocks).toFixed(0)}%)` : '';
      console.log(
        `  ${seconds(elapsed)}: ${row.phase}, ${count(row.tuples_done)} tuples reported by the leader, ` +
          `${row.workers} parallel worker(s)${eta}`,
      );
    }
    await building;
    const buildMs = performance.now() - started;
    const { rows } = await builder.query<{ bytes: number }>(
      'SELECT pg_relation_size($1::regclass) AS bytes',
      [INDEX],
    );
    return { buildMs, indexBytes: rows[0]!.bytes, notices };
  } finally {
    builder.off('notice', onNotice);
    builder.release();
    watcher.release();
  }
}

interface SettingResult {
  efSearch: number;
  iterative: string;
  p50: number;
  p99: number;
  mean: number;
  recall: number;
  minRecall: number;
  shortLists: number;
  queries: number;
}

function recallAt(found: string[], exact: string[]): number {
  const truth = new Set(exact);
  return found.filter((id) => truth.has(id)).length / TOP_N;
}

/**
 * One point of the grid: session settings, a check that the plan uses the index (and its buffer
 * traffic for the first user), one warm-up pass, then `rounds` timed passes.
 */
async function measure(
  client: DatabaseClient,
  users: BenchUser[],
  exact: string[][],
  settings: Settings,
  efSearch: number,
  iterative: 'relaxed_order' | 'off',
  showPlan: boolean,
): Promise<SettingResult> {
  await setting(client, 'hnsw.ef_search', efSearch);
  await setting(client, 'hnsw.iterative_scan', iterative);
  const sql = hnswSql(settings.candidates);
  const first = users[0]!;
  const { rows: plan } = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`,
    [first.vector, first.bought],
  );
  const lines = plan.map((row) => row['QUERY PLAN']);
  if (!lines.some((line) => line.includes(`Index Scan using ${INDEX}`))) {
    throw new Error(`the HNSW query does not use ${INDEX}:\n${lines.join('\n')}`);
  }
  if (showPlan) {
    // Vector literals are 10 KB of digits: shortened, as is the list of purchased ids.
    const shown = lines.map((line) =>
      line.replace(/'\[[^\]]*\]'/g, "'[…]'").replace(/'\{[^}]{60,}\}'/g, "'{…}'"),
    );
    console.log(`  plan (customer ${first.customerId}, cold):\n    ${shown.join('\n    ')}`);
  }

  await runQueries(client, sql, users); // warm-up
  const latencies: number[] = [];
  let results: string[][] = [];
  for (let round = 0; round < settings.rounds; round++) {
    const timed = await runQueries(client, sql, users);
    latencies.push(...timed.latencies);
    results = timed.results; // the graph search is deterministic: every round returns the same lists
  }
  const { rows: warmPlan } = await client.query<{ 'QUERY PLAN': string }>(
    `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`,
    [first.vector, first.bought],
  );
  const buffers = warmPlan.map((row) => row['QUERY PLAN'].trim()).find((line) => line.startsWith('Buffers:'));
  const execution = warmPlan
    .map((row) => row['QUERY PLAN'].trim())
    .find((line) => line.startsWith('Execution Time:'));
  console.log(
    `  ef_search=${efSearch} iterative_scan=${iterative}: customer ${first.customerId} (${first.bought.length} bought), ` +
      `warm: ${buffers ?? 'no buffer line'}; ${execution ?? ''}`,
  );

  const recalls = results.map((found, i) => recallAt(found, exact[i]!));
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    efSearch,
    iterative,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: latencies.reduce((sum, value) => sum + value, 0) / latencies.length,
    recall: recalls.reduce((sum, value) => sum + value, 0) / recalls.length,
    minRecall: Math.min(...recalls),
    shortLists: results.filter((found) => found.length < TOP_N).length,
    queries: latencies.length,
  };
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  console.log(
    `bench:scale: ${count(settings.products)} products x ${DIM}-d, model ${settings.model}, noise norm ` +
      `${settings.noise} (sigma ${(settings.noise / Math.sqrt(DIM)).toFixed(5)} per component), seed "${settings.seed}"`,
  );

  const { catalog, users } = await readRealData(settings);
  if (settings.products < catalog.ids.length) {
    throw new SettingsError(
      `SCALE_PRODUCTS (${settings.products}) must be at least the real catalog (${catalog.ids.length} products)`,
    );
  }
  const bought = users.map((user) => user.bought.length).sort((a, b) => a - b);
  console.log(
    `real catalog: ${count(catalog.ids.length)} vectors from ${redactUrl(settings.realUrl)}; ${users.length} users, ` +
      `products bought (filtered out) p50 ${percentile(bought, 50)}, p90 ${percentile(bought, 90)}, ` +
      `max ${bought[bought.length - 1]}`,
  );

  await prepareScaleDatabase(settings.scaleUrl);
  const db = await connectDatabase(settings.scaleUrl, { max: 3, applicationName: 'bench-scale' });
  try {
    await db.query(`DROP TABLE IF EXISTS ${TABLE} CASCADE`);

    console.log(`\nloading ${count(settings.products)} products into ${redactUrl(settings.scaleUrl)} ...`);
    const load = await loadCatalog(db, catalog, settings);
    console.log(
      `load: ${seconds(load.copyMs)} (generate + binary COPY, ${Math.round(settings.products / (load.copyMs / 1000)).toLocaleString('en-GB')} rows/s)` +
        `, primary key + ANALYZE ${seconds(load.keyMs)}; table ${mib(load.tableBytes)} ` +
        `(${(load.tableBytes / settings.products).toFixed(0)} B/product)`,
    );

    console.log(
      `\nexact top ${TOP_N} for ${users.length} users (parallel sequential scan, no index yet) ...`,
    );
    const exact = await exactTopLists(db, users);
    const exactSorted = [...exact.latencies].sort((a, b) => a - b);
    console.log(
      `exact scan: p50 ${millis(percentile(exactSorted, 50))} ms, p99 ${millis(percentile(exactSorted, 99))} ms ` +
        `(the exact repository query at this size)`,
    );

    console.log(
      `\nbuilding HNSW (halfvec_ip_ops, m=${settings.m}, ef_construction=${settings.efConstruction}, ` +
        `maintenance_work_mem=${settings.maintenanceWorkMem}, max_parallel_maintenance_workers=${settings.buildWorkers}) ...`,
    );
    const build = await buildIndex(db, settings);
    console.log(
      `build: ${seconds(build.buildMs)} (${((1000 * build.buildMs) / settings.products).toFixed(0)} µs/product); ` +
        `index ${mib(build.indexBytes)} (${(build.indexBytes / settings.products).toFixed(0)} B/product)` +
        (build.notices.length > 0 ? `; notices: ${build.notices.join(' | ')}` : '; graph built in memory'),
    );

    console.log(
      `\nqueries: ${users.length} users x ${settings.rounds} timed rounds after a warm-up pass, one connection; ` +
        `${settings.candidates} candidates re-ranked by exact float32 score`,
    );
    const client = await db.connect();
    const results: SettingResult[] = [];
    try {
      for (const [i, ef] of settings.efSearch.entries()) {
        results.push(await measure(client, users, exact.results, settings, ef, 'relaxed_order', i === 0));
      }
      // Control: the same query without iterative scan (what pgvector < 0.8 did).
      results.push(
        await measure(client, users, exact.results, settings, settings.efSearch[0]!, 'off', false),
      );
    } finally {
      client.release();
    }

    console.log(
      `\n${'ef_search'.padEnd(10)}${'iterative_scan'.padEnd(16)}${'p50 ms'.padStart(8)}${'p99 ms'.padStart(8)}` +
        `${'mean ms'.padStart(9)}${'recall@12'.padStart(11)}${'min recall'.padStart(12)}${'<12 results'.padStart(13)}`,
    );
    for (const r of results) {
      console.log(
        `${String(r.efSearch).padEnd(10)}${r.iterative.padEnd(16)}${millis(r.p50).padStart(8)}${millis(r.p99).padStart(8)}` +
          `${millis(r.mean).padStart(9)}${r.recall.toFixed(4).padStart(11)}${r.minRecall.toFixed(3).padStart(12)}` +
          `${String(r.shortLists).padStart(13)}`,
      );
    }
    const meeting = results.filter((r) => r.iterative !== 'off' && r.p99 < 10 && r.recall >= 0.95);
    const best = meeting.sort((a, b) => a.p99 - b.p99)[0];
    console.log(
      best
        ? `\ngoal (p99 < 10 ms, recall@12 >= 0.95): met with ef_search=${best.efSearch} ` +
            `(p99 ${millis(best.p99)} ms, recall ${best.recall.toFixed(4)}); settings meeting it: ` +
            meeting.map((r) => r.efSearch).join(', ')
        : '\ngoal (p99 < 10 ms, recall@12 >= 0.95): not met by any ef_search tried (see the table)',
    );

    // Rough scaling to 10 million products, from this run's per-product figures.
    const target = 10_000_000;
    const ratio = target / settings.products;
    const logRatio = Math.log(target) / Math.log(settings.products);
    console.log(
      `\nat ${count(target)} products (linear in size; build x N·log N): raw float32 vectors ${gib(target * 4 * DIM)}, ` +
        `halfvec ${gib(target * 2 * DIM)}; table ${gib((load.tableBytes / settings.products) * target)}, ` +
        `HNSW index ${gib((build.indexBytes / settings.products) * target)}; build ~${((build.buildMs * ratio * logRatio) / 3_600_000).toFixed(1)} h ` +
        `on this machine if the graph fitted in maintenance_work_mem`,
    );
  } finally {
    await db.end();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench:scale failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
