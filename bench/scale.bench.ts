#!/usr/bin/env node
/**
 * `npm run bench:scale`: can the recommendations be served from an approximate index when the catalog
 * is 70x larger than the real one? Goal: p99 < 10 ms with recall@12 >= 0.95.
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
 *   3. Queries: SCALE_USERS (default 200) customers drawn (deterministically) from the real purchases;
 *      user vector = L2-normalised mean of the vectors of the merchandise they bought (as the
 *      recommendation repository computes it), filter = the product ids they bought. For contrast,
 *      SCALE_PRODUCT_QUERIES (default 100) "more like this" queries: a real product's own vector,
 *      minus itself (recall only).
 *   4. Ground truth, before any index exists: exact top 12 by a parallel sequential scan with the same
 *      filter, `ORDER BY embedding <#> query` (inner product of unit vectors = cosine). Its latency is
 *      printed too: it is what the exact repository query costs at this size.
 *   5. HNSW on the half-precision copy of the vectors, an expression index
 *      `(embedding::halfvec(1024)) halfvec_ip_ops` (a third of the pages of a float32 graph: three
 *      elements per 8 KiB page instead of one; the table keeps the float32 vectors). Default m = 32,
 *      ef_construction = 200 (SCALE_HNSW_M, SCALE_HNSW_EF_CONSTRUCTION): these mean-of-purchases queries
 *      navigate the graph poorly, and the denser graph buys more recall per ms of query than the
 *      pgvector defaults (16, 64) at about 3x the build time. Built in memory (maintenance_work_mem,
 *      default 4GB) by the leader plus one parallel worker (2 cores); progress from
 *      pg_stat_progress_create_index.
 *   6. Approximate queries, one connection, as the service would send them (parameterised, planned each
 *      time): the index scan yields candidates in halfvec order, the purchased products are filtered
 *      out, and the first SCALE_CANDIDATES (default 24) survivors are re-ranked by their exact float32
 *      score. The filter runs after the index scan, so pgvector 0.8's iterative scan (relaxed_order)
 *      resumes the search until enough candidates pass it; relaxed order is enough because the outer
 *      query sorts the candidates exactly anyway (strict_order would only discard work). For each
 *      hnsw.ef_search of SCALE_EF_SEARCH (default 40,100,200,400,1000; 1000 is pgvector's maximum): one
 *      untimed warm-up pass, then SCALE_ROUNDS (default 3) timed passes over the users; p50/p99 over
 *      every timed query, recall@12 = |approximate top 12 ∩ exact top 12| / 12 averaged over the users.
 *      A control row without iterative scan shows what the filter does to a plain index scan.
 *   7. The alternative, on the same expression and queries: IVFFlat with SCALE_IVFFLAT_LISTS (default
 *      500, 0 skips it) lists, ivfflat.probes from SCALE_IVFFLAT_PROBES (default 5,10,20).
 *
 * Not part of `npm test`: it takes about ten minutes (exact scans and index builds) and measures time.
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
import { BENCH_DATABASE_URL, runBench } from './bench-kit.ts';

const DIM = 1024;
const TOP_N = 12;
const TABLE = 'scale_products';
const HNSW_INDEX = 'scale_products_embedding_hnsw';
const IVFFLAT_INDEX = 'scale_products_embedding_ivfflat';
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
  productQueries: number;
  ivfLists: number;
  ivfProbes: number[];
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

function intList(env: NodeJS.ProcessEnv, name: string, fallback: string, max: number): number[] {
  const raw = env[name] ?? fallback;
  const values = raw.split(',').map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isInteger(value) || value < 1 || value > max)) {
    throw new SettingsError(`${name} must be a comma-separated list of integers 1..${max}, got "${raw}"`);
  }
  return values;
}

function readSettings(env: NodeJS.ProcessEnv): Settings {
  const noiseRaw = env.SCALE_NOISE ?? '0.25';
  const noise = Number(noiseRaw);
  if (!Number.isFinite(noise) || noise < 0 || noise > 2) {
    throw new SettingsError(`SCALE_NOISE must be a number from 0 to 2 (the noise norm), got "${noiseRaw}"`);
  }
  const efSearch = intList(env, 'SCALE_EF_SEARCH', '40,100,200,400,1000', 1000);
  const ivfProbes = intList(env, 'SCALE_IVFFLAT_PROBES', '5,10,20', 32768);
  const maintenanceWorkMem = env.SCALE_MAINTENANCE_WORK_MEM ?? '4GB';
  if (!/^\d+(kB|MB|GB)$/.test(maintenanceWorkMem)) {
    throw new SettingsError(
      `SCALE_MAINTENANCE_WORK_MEM must look like 512MB or 4GB, got "${maintenanceWorkMem}"`,
    );
  }
  const m = intSetting(env, 'SCALE_HNSW_M', 32, 2, 100);
  const settings: Settings = {
    realUrl: BENCH_DATABASE_URL,
    scaleUrl: env.SCALE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/retail_scale',
    model: env.SCALE_MODEL ?? 'local-hashed-ngrams-v1',
    products: intSetting(env, 'SCALE_PRODUCTS', 250_000, 1, 50_000_000),
    noise,
    users: intSetting(env, 'SCALE_USERS', 200, 1, 10_000),
    seed: env.SCALE_SEED ?? 'scale-bench-1',
    m,
    efConstruction: intSetting(env, 'SCALE_HNSW_EF_CONSTRUCTION', 200, 2 * m, 1000),
    maintenanceWorkMem,
    buildWorkers: intSetting(env, 'SCALE_BUILD_WORKERS', 1, 0, 16),
    efSearch,
    candidates: intSetting(env, 'SCALE_CANDIDATES', 2 * TOP_N, TOP_N, 1000),
    rounds: intSetting(env, 'SCALE_ROUNDS', 3, 1, 100),
    productQueries: intSetting(env, 'SCALE_PRODUCT_QUERIES', 100, 1, 10_000),
    ivfLists: intSetting(env, 'SCALE_IVFFLAT_LISTS', 500, 0, 32768),
    ivfProbes,
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

/** One query of the benchmark: a vector, and the product ids that must not be recommended. */
interface BenchQuery {
  label: string;
  /** pgvector's text form of the (unit) query vector. */
  vector: string;
  exclude: string[];
}

interface RealData {
  catalog: RealCatalog;
  /** Customers: the mean of what they bought, minus what they bought (the recommendation query). */
  users: BenchQuery[];
  /** Real products: their own vector, minus themselves (a "more like this" query, for contrast). */
  products: BenchQuery[];
}

async function readRealData(settings: Settings): Promise<RealData> {
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
    // The same user vector as the description model's ranking query; users in a seeded random order.
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
    const sample = [...products]
      .sort((a, b) => hashOrder(a.product_id, settings.seed) - hashOrder(b.product_id, settings.seed))
      .slice(0, settings.productQueries);
    return {
      catalog: { ids: products.map((row) => row.product_id), vectors: products.map((row) => row.embedding) },
      users: users.map((row) => ({
        label: `customer ${row.customer_id} (${row.bought.length} bought)`,
        vector: vectorLiteral(row.vector),
        exclude: row.bought,
      })),
      products: sample.map((row) => ({
        label: `product ${row.product_id}`,
        vector: vectorLiteral(row.embedding),
        exclude: [row.product_id],
      })),
    };
  } finally {
    await db.end();
  }
}

/** A deterministic pseudo-random sort key of `value` (FNV-1a of value + seed). */
function hashOrder(value: string, seed: string): number {
  let h = 2166136261;
  for (const ch of value + seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
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

    // Bytes of the largest row: field count, three lengths, two ids (a copy's id adds "~<n>"), vector.
    const longestId = Math.max(...catalog.ids.map((id) => Buffer.byteLength(id)));
    const rowBytesMax = 2 + 3 * 4 + 2 * longestId + 12 + 4 + 4 * DIM;
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
// 3. Exact search (ground truth), index builds, approximate queries

const EXACT_SQL = `
  SELECT product_id FROM ${TABLE}
   WHERE product_id <> ALL($2::text[])
   ORDER BY embedding <#> $1::vector(${DIM}), product_id
   LIMIT ${TOP_N}`;

/**
 * The approximate query: candidates in halfvec order from the index (the ORDER BY matches the index
 * expression), excluded products filtered out, survivors re-ranked by their exact float32 score.
 */
function approximateSql(candidates: number): string {
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

/** Runs `sql` once per query on `client`, in order, timing each round trip from Node. */
async function runQueries(client: DatabaseClient, sql: string, queries: BenchQuery[]): Promise<Timed> {
  const latencies: number[] = [];
  const results: string[][] = [];
  for (const query of queries) {
    const started = performance.now();
    const { rows } = await client.query<{ product_id: string }>(sql, [query.vector, query.exclude]);
    latencies.push(performance.now() - started);
    results.push(rows.map((row) => row.product_id));
  }
  return { latencies, results };
}

/** Exact top lists by parallel sequential scans (leader + 1 worker = the 2 cores), with progress. */
async function exactTopLists(db: Database, queries: BenchQuery[], what: string): Promise<Timed> {
  const client = await db.connect();
  try {
    await setting(client, 'enable_indexscan', 'off');
    await setting(client, 'enable_bitmapscan', 'off');
    await setting(client, 'max_parallel_workers_per_gather', 1);
    const latencies: number[] = [];
    const results: string[][] = [];
    const step = Math.max(1, Math.ceil(queries.length / 4));
    for (let i = 0; i < queries.length; i += step) {
      const part = await runQueries(client, EXACT_SQL, queries.slice(i, i + step));
      latencies.push(...part.latencies);
      results.push(...part.results);
      console.log(`  exact: ${results.length} / ${queries.length} ${what}`);
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

/**
 * Builds `CREATE INDEX name ON table USING method`, printing pg_stat_progress_create_index (phase,
 * tuples and heap blocks the leader reports, parallel workers) every PROGRESS_EVERY_MS.
 */
async function buildIndex(
  db: Database,
  settings: Settings,
  name: string,
  method: string,
): Promise<BuildResult> {
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
    // In memory when the graph fits maintenance_work_mem (pgvector says so in a NOTICE otherwise).
    await setting(builder, 'maintenance_work_mem', settings.maintenanceWorkMem);
    await setting(builder, 'max_parallel_maintenance_workers', settings.buildWorkers);
    const { rows: pidRows } = await builder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const pid = pidRows[0]!.pid;

    const started = performance.now();
    let settled = false;
    const building = builder.query(`CREATE INDEX ${name} ON ${TABLE} USING ${method}`).finally(() => {
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
      const heap =
        row.blocks_total > 0
          ? `, heap scanned ${((100 * row.blocks_done) / row.blocks_total).toFixed(0)}%`
          : '';
      console.log(
        `  ${seconds(performance.now() - started)}: ${row.phase}, ${count(row.tuples_done)} tuples ` +
          `(leader's count), ${row.workers} parallel worker(s)${heap}`,
      );
    }
    await building;
    const buildMs = performance.now() - started;
    const { rows } = await builder.query<{ bytes: number }>(
      'SELECT pg_relation_size($1::regclass) AS bytes',
      [name],
    );
    return { buildMs, indexBytes: rows[0]!.bytes, notices };
  } finally {
    builder.off('notice', onNotice);
    builder.release();
    watcher.release();
  }
}

/** One point of a grid: an index and the session settings its scan is tuned with. */
interface GridPoint {
  method: 'hnsw' | 'ivfflat';
  index: string;
  /** What varies, as printed: "ef_search=100", "probes=10". */
  knob: string;
  iterative: 'relaxed_order' | 'off';
  gucs: [string, string | number][];
  showPlan: boolean;
}

interface PointResult {
  point: GridPoint;
  p50: number;
  p99: number;
  mean: number;
  recall: number;
  minRecall: number;
  shortLists: number;
  productRecall: number;
}

function meanRecall(found: string[][], exact: string[][]): { mean: number; min: number } {
  const recalls = found.map((ids, i) => {
    const truth = new Set(exact[i]);
    return ids.filter((id) => truth.has(id)).length / TOP_N;
  });
  return { mean: recalls.reduce((sum, value) => sum + value, 0) / recalls.length, min: Math.min(...recalls) };
}

/**
 * Measures one grid point on `client`: the session settings, a check that the plan scans the index
 * (printed for the first point of an index), one warm-up pass, `rounds` timed passes of the user
 * queries, one pass of the product queries (recall only).
 */
async function measure(
  client: DatabaseClient,
  data: RealData,
  exact: { users: string[][]; products: string[][] },
  settings: Settings,
  point: GridPoint,
): Promise<PointResult> {
  for (const [name, value] of point.gucs) await setting(client, name, value);
  // The grid measures the index. At 250k products the planner picks it anyway; on small test catalogs
  // it may prefer the sequential scan when many IVFFlat lists are probed.
  await setting(client, 'enable_seqscan', 'off');
  const sql = approximateSql(settings.candidates);
  const first = data.users[0]!;
  const explain = async (): Promise<string[]> => {
    const { rows } = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${sql}`,
      [first.vector, first.exclude],
    );
    return rows.map((row) => row['QUERY PLAN']);
  };
  const plan = await explain();
  if (!plan.some((line) => line.includes(`Index Scan using ${point.index}`))) {
    throw new Error(`the query does not use ${point.index}:\n${plan.join('\n')}`);
  }
  if (point.showPlan) {
    // Vector literals are 10 KB of digits: shortened, as is the list of excluded ids.
    const shown = plan.map((line) =>
      line.replace(/'\[[^\]]*\]'/g, "'[…]'").replace(/'\{[^}]{60,}\}'/g, "'{…}'"),
    );
    console.log(`  plan (${first.label}, first run):\n    ${shown.join('\n    ')}`);
  }

  await runQueries(client, sql, data.users); // warm-up
  const latencies: number[] = [];
  let results: string[][] = [];
  for (let round = 0; round < settings.rounds; round++) {
    const timed = await runQueries(client, sql, data.users);
    latencies.push(...timed.latencies);
    results = timed.results; // the index scan is deterministic: every round returns the same lists
  }
  const products = await runQueries(client, sql, data.products);
  const warm = (await explain()).map((line) => line.trim());
  const buffers = warm.find((line) => line.startsWith('Buffers:')) ?? 'no buffer line';
  const execution = warm.find((line) => line.startsWith('Execution Time:')) ?? '';
  console.log(
    `  ${point.method} ${point.knob} ${point.iterative}: ${first.label}, warm: ${buffers}; ${execution}`,
  );

  const users = meanRecall(results, exact.users);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    point,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: latencies.reduce((sum, value) => sum + value, 0) / latencies.length,
    recall: users.mean,
    minRecall: users.min,
    shortLists: results.filter((found) => found.length < TOP_N).length,
    productRecall: meanRecall(products.results, exact.products).mean,
  };
}

function printTable(results: PointResult[]): void {
  const header =
    'index'.padEnd(9) +
    'setting'.padEnd(15) +
    'iterative'.padEnd(15) +
    'p50 ms'.padStart(8) +
    'p99 ms'.padStart(8) +
    'mean ms'.padStart(9) +
    'recall@12'.padStart(11) +
    'min'.padStart(7) +
    '<12'.padStart(5) +
    'products recall'.padStart(17);
  console.log(`\n${header}`);
  for (const r of results) {
    console.log(
      r.point.method.padEnd(9) +
        r.point.knob.padEnd(15) +
        r.point.iterative.padEnd(15) +
        millis(r.p50).padStart(8) +
        millis(r.p99).padStart(8) +
        millis(r.mean).padStart(9) +
        r.recall.toFixed(4).padStart(11) +
        r.minRecall.toFixed(2).padStart(7) +
        String(r.shortLists).padStart(5) +
        r.productRecall.toFixed(4).padStart(17),
    );
  }
  console.log(
    "recall@12 and min: user queries (customers' mean vectors minus what they bought) against the exact top 12; " +
      '<12: user queries that returned fewer than 12; products recall: "more like this" queries (a real ' +
      "product's own vector), for contrast",
  );
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const settings = readSettings(process.env);
  console.log(
    `bench:scale: ${count(settings.products)} products x ${DIM}-d, model ${settings.model}, noise norm ` +
      `${settings.noise} (sigma ${(settings.noise / Math.sqrt(DIM)).toFixed(5)} per component), seed "${settings.seed}"`,
  );

  const data = await readRealData(settings);
  const { catalog } = data;
  if (settings.products < catalog.ids.length) {
    throw new SettingsError(
      `SCALE_PRODUCTS (${settings.products}) must be at least the real catalog (${catalog.ids.length} products)`,
    );
  }
  const bought = data.users.map((user) => user.exclude.length).sort((a, b) => a - b);
  console.log(
    `real catalog: ${count(catalog.ids.length)} vectors from ${redactUrl(settings.realUrl)}; ` +
      `${data.users.length} users, products bought (filtered out) p50 ${percentile(bought, 50)}, ` +
      `p90 ${percentile(bought, 90)}, max ${bought[bought.length - 1]}; ${data.products.length} product queries`,
  );

  await prepareScaleDatabase(settings.scaleUrl);
  const db = await connectDatabase(settings.scaleUrl, { max: 3, applicationName: 'bench-scale' });
  try {
    await db.query(`DROP TABLE IF EXISTS ${TABLE} CASCADE`);
    const { rows: server } = await db.query<{ shared_buffers: string }>(
      `SELECT current_setting('shared_buffers') AS shared_buffers`,
    );

    console.log(`\nloading ${count(settings.products)} products into ${redactUrl(settings.scaleUrl)} ...`);
    const load = await loadCatalog(db, catalog, settings);
    console.log(
      `load: ${seconds(load.copyMs)} (generate + binary COPY, ` +
        `${count(Math.round(settings.products / (load.copyMs / 1000)))} rows/s), primary key + ANALYZE ` +
        `${seconds(load.keyMs)}; table ${mib(load.tableBytes)} (${(load.tableBytes / settings.products).toFixed(0)} ` +
        `B/product: a 4 KiB float32 row leaves no room for a second one in an 8 KiB page)`,
    );

    console.log(`\nexact top ${TOP_N} (parallel sequential scan, before any index) ...`);
    const exactUsers = await exactTopLists(db, data.users, 'users');
    const exactProducts = await exactTopLists(db, data.products, 'product queries');
    const exact = { users: exactUsers.results, products: exactProducts.results };
    const exactSorted = [...exactUsers.latencies].sort((a, b) => a - b);
    console.log(
      `exact scan (user queries): p50 ${millis(percentile(exactSorted, 50))} ms, ` +
        `p99 ${millis(percentile(exactSorted, 99))} ms: the exact repository query at this size`,
    );

    const hnswKnobs = `m = ${settings.m}, ef_construction = ${settings.efConstruction}`;
    console.log(
      `\nbuilding HNSW ((embedding::halfvec(${DIM})) halfvec_ip_ops, ${hnswKnobs}, maintenance_work_mem=` +
        `${settings.maintenanceWorkMem}, max_parallel_maintenance_workers=${settings.buildWorkers}) ...`,
    );
    const hnsw = await buildIndex(
      db,
      settings,
      HNSW_INDEX,
      `hnsw ((embedding::halfvec(${DIM})) halfvec_ip_ops) WITH (${hnswKnobs})`,
    );
    console.log(
      `HNSW build: ${seconds(hnsw.buildMs)} (${((1000 * hnsw.buildMs) / settings.products).toFixed(0)} µs/product); ` +
        `index ${mib(hnsw.indexBytes)} (${(hnsw.indexBytes / settings.products).toFixed(0)} B/product)` +
        (hnsw.notices.length > 0 ? '' : '; graph built in memory'),
    );

    console.log(
      `\nqueries: ${data.users.length} users x ${settings.rounds} timed rounds after a warm-up pass, one ` +
        `connection (shared_buffers ${server[0]!.shared_buffers}); ${settings.candidates} candidates re-ranked ` +
        `by exact float32 score`,
    );
    const results: PointResult[] = [];
    const client = await db.connect();
    try {
      for (const [i, ef] of settings.efSearch.entries()) {
        results.push(
          await measure(client, data, exact, settings, {
            method: 'hnsw',
            index: HNSW_INDEX,
            knob: `ef_search=${ef}`,
            iterative: 'relaxed_order',
            gucs: [
              ['hnsw.ef_search', ef],
              ['hnsw.iterative_scan', 'relaxed_order'],
            ],
            showPlan: i === 0,
          }),
        );
      }
      // Control: the same query without iterative scan (what pgvector < 0.8 did).
      const ef = settings.efSearch[0]!;
      results.push(
        await measure(client, data, exact, settings, {
          method: 'hnsw',
          index: HNSW_INDEX,
          knob: `ef_search=${ef}`,
          iterative: 'off',
          gucs: [
            ['hnsw.ef_search', ef],
            ['hnsw.iterative_scan', 'off'],
          ],
          showPlan: false,
        }),
      );
    } finally {
      client.release();
    }

    let ivfflat: BuildResult | undefined;
    if (settings.ivfLists > 0) {
      // The alternative: IVFFlat on the same halfvec expression. The HNSW index goes first, so that
      // the planner has one choice and the disk holds one index.
      await db.query(`DROP INDEX ${HNSW_INDEX}`);
      console.log(
        `\nbuilding IVFFlat ((embedding::halfvec(${DIM})) halfvec_ip_ops, lists = ${settings.ivfLists}) ...`,
      );
      ivfflat = await buildIndex(
        db,
        settings,
        IVFFLAT_INDEX,
        `ivfflat ((embedding::halfvec(${DIM})) halfvec_ip_ops) WITH (lists = ${settings.ivfLists})`,
      );
      console.log(
        `IVFFlat build: ${seconds(ivfflat.buildMs)}; index ${mib(ivfflat.indexBytes)} ` +
          `(${(ivfflat.indexBytes / settings.products).toFixed(0)} B/product)`,
      );
      const ivfClient = await db.connect();
      try {
        for (const [i, probes] of settings.ivfProbes.entries()) {
          results.push(
            await measure(ivfClient, data, exact, settings, {
              method: 'ivfflat',
              index: IVFFLAT_INDEX,
              knob: `probes=${probes}`,
              iterative: 'relaxed_order',
              gucs: [
                ['ivfflat.probes', probes],
                ['ivfflat.iterative_scan', 'relaxed_order'],
              ],
              showPlan: i === 0,
            }),
          );
        }
      } finally {
        ivfClient.release();
      }
    }

    printTable(results);
    const meeting = results.filter((r) => r.point.iterative !== 'off' && r.p99 < 10 && r.recall >= 0.95);
    console.log(
      meeting.length > 0
        ? `\ngoal (p99 < 10 ms, recall@12 >= 0.95) met by: ` +
            meeting.map((r) => `${r.point.method} ${r.point.knob}`).join(', ')
        : '\ngoal (p99 < 10 ms, recall@12 >= 0.95): not met by any setting tried (see the table)',
    );

    // Rough scaling to 10 million products, from this run's per-product figures.
    const target = 10_000_000;
    const logRatio = Math.log(target) / Math.log(settings.products);
    const perProduct = (bytes: number): number => (bytes / settings.products) * target;
    console.log(
      `\nat ${count(target)} products (sizes linear; HNSW build x N·log N): raw vectors float32 ` +
        `${gib(target * 4 * DIM)}, halfvec ${gib(target * 2 * DIM)}; table ${gib(perProduct(load.tableBytes))}; ` +
        `HNSW index ${gib(perProduct(hnsw.indexBytes))}, build ~` +
        `${((hnsw.buildMs * (target / settings.products) * logRatio) / 3_600_000).toFixed(1)} h on this machine ` +
        `if the graph fitted in maintenance_work_mem` +
        (ivfflat ? `; IVFFlat index ${gib(perProduct(ivfflat.indexBytes))}` : ''),
    );
  } finally {
    await db.end();
  }
}

runBench('bench:scale', main);
