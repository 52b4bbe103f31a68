import pg from 'pg';
import pgvector from 'pgvector';
import { redactUrl } from '../config/config.js';
import { withDeadline } from '../util/deadline.js';

export type Database = pg.Pool;
export type DatabaseClient = pg.PoolClient;

/** Raised when Postgres cannot be reached or refuses the connection; never carries the password. */
export class DatabaseUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`Postgres at ${redactUrl(url)} is not available: ${reason}`, { cause });
    this.name = 'DatabaseUnavailableError';
  }
}

const TIMESTAMP_OID = 1114; // timestamp without time zone: kept as the shop-local text the file had
const INT8_OID = 20; // count(*) and sums: well inside Number's exact range here

/**
 * Parses pgvector's text form into the exact float32 values it stores (pgvector's own parser returns
 * the nearest doubles of the printed decimals, which differ from the stored floats in the last bits).
 */
export function parseVector(text: string): Float32Array {
  const body = text.slice(1, -1);
  if (body.length === 0) return new Float32Array(0);
  const parts = body.split(',');
  const out = new Float32Array(parts.length);
  for (let i = 0; i < parts.length; i++) out[i] = Number(parts[i]);
  return out;
}

/**
 * pgvector's text form of a vector (what `::vector` and `::halfvec` accept). Typed arrays are joined
 * directly: the same text as pgvector.toSql, which goes through JSON.stringify of a copied Array and
 * costs about 6x more (it dominated the embedder's time on the local provider).
 */
export function vectorLiteral(values: Float32Array | number[]): string {
  return values instanceof Float32Array ? `[${values.join(',')}]` : (pgvector.toSql(values) as string);
}

export interface DatabaseOptions {
  /** Pool size; the default suits a service, a CLI may want fewer. */
  max?: number;
  applicationName?: string;
  /** Connections to open at once (a request path should not pay for opening them). */
  warm?: number;
}

/**
 * Opens a connection pool, checks that the database answers, and installs the type parsers the
 * repositories rely on (timestamps as text, bigint as number, vector/halfvec as Float32Array).
 */
export async function connectDatabase(url: string, options: DatabaseOptions = {}): Promise<Database> {
  const parsers = new Map<number, (value: string) => unknown>([
    [TIMESTAMP_OID, (value) => value],
    [INT8_OID, (value) => Number(value)],
  ]);
  const getTypeParser = (oid: number, format?: string): ((value: string) => unknown) => {
    const own = format === undefined || format === 'text' ? parsers.get(oid) : undefined;
    return own ?? (pg.types.getTypeParser(oid, 'text') as (value: string) => unknown);
  };
  const types = { getTypeParser: getTypeParser as typeof pg.types.getTypeParser };
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'retail',
    types,
    connectionTimeoutMillis: 5_000,
    // Every statement here is short; JIT compilation would add tens of milliseconds to the scans.
    options: '-c jit=off',
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  try {
    const { rows } = await pool.query<{ oid: number }>(
      `SELECT oid::int AS oid FROM pg_type WHERE typname IN ('vector', 'halfvec')`,
    );
    for (const row of rows) parsers.set(row.oid, parseVector);
    const warm = Math.min(options.warm ?? 0, options.max ?? 10);
    await Promise.all(Array.from({ length: warm }, () => pool.query('SELECT 1')));
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new DatabaseUnavailableError(url, error);
  }
  return pool;
}

/** How long a ROLLBACK may take before the connection is closed instead (which rolls back just as well). */
const ROLLBACK_TIMEOUT_MS = 5_000;

/**
 * Runs `work` inside one transaction on one client: committed when it resolves, rolled back when it throws.
 * When the ROLLBACK cannot run (the connection is stuck in a COPY that was never ended, or lost) or does not
 * answer within `rollbackTimeoutMs`, the connection is closed and dropped from the pool: Postgres then
 * aborts the transaction and releases its locks, and the caller gets the original error instead of waiting.
 */
export async function withTransaction<T>(
  db: Database,
  work: (client: DatabaseClient) => Promise<T>,
  options: { rollbackTimeoutMs?: number } = {},
): Promise<T> {
  const client = await db.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    broken = await rollback(client, options.rollbackTimeoutMs ?? ROLLBACK_TIMEOUT_MS);
    throw error;
  } finally {
    // release(error) closes the connection instead of returning it to the pool.
    client.release(broken);
  }
}

/** Rolls back; returns why the connection must be closed instead, when the ROLLBACK fails or hangs. */
async function rollback(client: DatabaseClient, timeoutMs: number): Promise<Error | undefined> {
  try {
    await withDeadline(client.query('ROLLBACK'), timeoutMs, 'ROLLBACK');
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}
