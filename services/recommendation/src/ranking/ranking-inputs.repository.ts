import { Inject, Injectable } from '@nestjs/common';
import { to as copyTo } from 'pg-copy-streams';
import { withTransaction, type Database, type DatabaseClient } from '@retail/common';
import { DATABASE } from '@retail/common/nest';
import type {
  CatalogRow,
  CustomerRow,
  FactorSnapshot,
  RankedList,
  VectorsSnapshot,
} from './ranking-engine.js';

/** What to read: the parts whose notifications came, and the models when their version moved. */
export interface InputsRequest {
  catalog: boolean;
  customers: boolean;
  descriptionModel: string;
  /** The factor model served (co-purchase or hybrid), if any. */
  factorModel?: { name: string; kind: 'copurchase' | 'hybrid' };
  /** Versions loaded so far (undefined: nothing loaded yet); a model is read again when its version moved. */
  loaded: { description: number | undefined; factor: number | undefined };
}

/** The versions of recommendation_inputs: 'customers', 'products', 'models' (see migration 1732500000003). */
export type InputVersions = Map<string, number>;

export interface InputsRead {
  /** recommendation_inputs in this snapshot. */
  inputs: InputVersions;
  /** The models' versions in this snapshot (0: never had a vector). */
  versions: { description: number; factor: number | undefined };
  catalog?: CatalogRow[];
  customers?: { rows: CustomerRow[]; items: Map<number, string[]> };
  /** Present when read (null: the model has no vector). */
  description?: VectorsSnapshot | null;
  factor?: FactorSnapshot | null;
}

export interface ListToSave {
  customerId: number;
  model: string;
  productIds: string[];
  list: RankedList;
}

/**
 * Every SQL statement of the in-memory rankings: their inputs read in one consistent snapshot (a
 * REPEATABLE READ transaction; vectors with COPY in binary, about 10x faster than their text form), and the
 * lists written back to user_recommendations (the record of what is served).
 */
@Injectable()
export class RankingInputsRepository {
  constructor(@Inject(DATABASE) private readonly db: Database) {}

  read(request: InputsRequest): Promise<InputsRead> {
    return withTransaction(this.db, async (client) => {
      await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const names = [request.descriptionModel, ...(request.factorModel ? [request.factorModel.name] : [])];
      const { rows: versions } = await client.query<{ model: string; version: number }>(
        'SELECT model, version FROM embedding_models WHERE model = ANY($1::text[])',
        [names],
      );
      const versionOf = (model: string) => versions.find((v) => v.model === model)?.version ?? 0;
      const result: InputsRead = {
        inputs: await this.inputVersions(client),
        versions: {
          description: versionOf(request.descriptionModel),
          factor: request.factorModel ? versionOf(request.factorModel.name) : undefined,
        },
      };
      if (request.catalog) {
        const { rows } = await client.query<{
          product_id: string;
          description: string;
          is_merchandise: boolean;
        }>('SELECT product_id, description, is_merchandise FROM products');
        result.catalog = rows.map((r) => ({
          productId: r.product_id,
          description: r.description,
          isMerchandise: r.is_merchandise,
        }));
      }
      if (request.customers) {
        const { rows } = await client.query<{
          customer_id: number;
          purchases_hash: string;
          items_hash: string;
        }>('SELECT customer_id, purchases_hash, items_hash FROM customers');
        const items = new Map<number, string[]>();
        const reader = await copyBinary(client, 'SELECT customer_id, product_id FROM user_items');
        while (reader.nextRow()) {
          const customer = reader.int32();
          const product = reader.text();
          const bought = items.get(customer);
          if (bought) bought.push(product);
          else items.set(customer, [product]);
        }
        result.customers = {
          rows: rows.map((r) => ({
            customerId: r.customer_id,
            purchasesHash: r.purchases_hash,
            itemsHash: r.items_hash,
          })),
          items,
        };
      }
      const descriptionVersion = versionOf(request.descriptionModel);
      if (request.loaded.description !== descriptionVersion) {
        result.description = await this.readDescriptionModel(
          client,
          request.descriptionModel,
          descriptionVersion,
        );
      }
      const factor = request.factorModel;
      if (factor && request.loaded.factor !== versionOf(factor.name)) {
        result.factor = await this.readFactorModel(client, factor.name, factor.kind, versionOf(factor.name));
      }
      return result;
    });
  }

  /** The versions of the inputs now (three rows: what an answer checks before it is given). */
  async inputVersions(client: Database | DatabaseClient = this.db): Promise<InputVersions> {
    const { rows } = await client.query<[string, number]>({
      name: 'ranking-inputs.versions',
      text: 'SELECT name, version FROM recommendation_inputs',
      rowMode: 'array',
    });
    return new Map(rows);
  }

  /** Writes lists to user_recommendations (one statement). */
  async saveLists(lists: readonly ListToSave[]): Promise<void> {
    if (lists.length === 0) return;
    const payload = JSON.stringify(
      lists.map(({ customerId, model, productIds, list }) => ({
        c: customerId,
        m: model,
        w: list.withVectors,
        p: productIds,
        s: Array.from(list.scores),
        h: list.purchasesHash,
        v: list.version,
      })),
    );
    await this.db.query(
      `INSERT INTO user_recommendations AS t (customer_id, model, purchased_with_vectors, product_ids, scores,
                                             purchases_hash, vectors_version, computed_at)
       SELECT x.c, x.m, x.w, x.p, x.s, x.h, x.v, now()
         FROM json_to_recordset($1::json) AS x(c int, m text, w int, p text[], s float8[], h text, v bigint)
       ON CONFLICT (customer_id, model) DO UPDATE
         SET purchased_with_vectors = excluded.purchased_with_vectors, product_ids = excluded.product_ids,
             scores = excluded.scores, purchases_hash = excluded.purchases_hash,
             vectors_version = excluded.vectors_version, computed_at = excluded.computed_at`,
      [payload],
    );
  }

  /** Drops the lists of customers that no longer exist. */
  async deleteOrphans(): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM user_recommendations r WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.customer_id = r.customer_id)`,
    );
    return rowCount ?? 0;
  }

  private async readDescriptionModel(
    client: DatabaseClient,
    model: string,
    version: number,
  ): Promise<VectorsSnapshot | null> {
    const reader = await copyBinary(
      client,
      `SELECT e.product_id, e.embedding FROM product_embeddings e JOIN products p USING (product_id)
        WHERE e.model = ${client.escapeLiteral(model)} AND p.is_merchandise`,
    );
    const productIds: string[] = [];
    const vectors = new VectorBuffer();
    while (reader.nextRow()) {
      productIds.push(reader.text());
      vectors.push(reader);
    }
    if (productIds.length === 0) return null;
    return { model, version, productIds, dims: vectors.dims, vectors: vectors.values() };
  }

  private async readFactorModel(
    client: DatabaseClient,
    model: string,
    kind: 'copurchase' | 'hybrid',
    version: number,
  ): Promise<FactorSnapshot | null> {
    const { rows } = await client.query<{ description_dimensions: number | null }>(
      `SELECT (params->>'description_dimensions')::int AS description_dimensions FROM recommender_models WHERE model = $1`,
      [model],
    );
    if (rows.length === 0) return null;
    const reader = await copyBinary(
      client,
      `SELECT f.product_id, f.item_vector, f.input_vector FROM product_factors f JOIN products p USING (product_id)
        WHERE f.model = ${client.escapeLiteral(model)} AND p.is_merchandise`,
    );
    const productIds: string[] = [];
    const items = new VectorBuffer();
    const inputs = new VectorBuffer();
    while (reader.nextRow()) {
      productIds.push(reader.text());
      items.push(reader);
      inputs.push(reader);
    }
    if (productIds.length === 0) return null;
    return {
      model,
      kind,
      version,
      productIds,
      dims: items.dims,
      vectors: items.values(),
      rank: inputs.dims,
      inputs: inputs.values(),
      descriptionDims: kind === 'hybrid' ? (rows[0]!.description_dimensions ?? 0) : 0,
    };
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Reverses the byte order of every 4-byte word of `bytes` in place. */
function swap32(bytes: Uint8Array): void {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    words[i] = ((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24);
  }
}

/** Runs `COPY (query) TO STDOUT (FORMAT binary)` and returns a reader over the whole answer. */
async function copyBinary(client: DatabaseClient, query: string): Promise<CopyReader> {
  const stream = client.query(copyTo(`COPY (${query}) TO STDOUT (FORMAT binary)`));
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return new CopyReader(Buffer.concat(chunks));
}

/** Reads PostgreSQL's binary COPY format: a 19-byte header, then per row a field count and sized fields. */
class CopyReader {
  private offset: number;
  private readonly view: DataView;

  constructor(private readonly buffer: Buffer) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    const extension = buffer.length >= 19 ? this.view.getInt32(15) : 0;
    this.offset = 19 + extension;
  }

  /** Moves to the next row; false at the end. */
  nextRow(): boolean {
    if (this.offset + 2 > this.buffer.length) return false;
    const fields = this.view.getInt16(this.offset);
    this.offset += 2;
    return fields !== -1;
  }

  int32(): number {
    this.field(4);
    const value = this.view.getInt32(this.offset);
    this.offset += 4;
    return value;
  }

  text(): string {
    const length = this.field();
    const value = this.buffer.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** A pgvector `vector` (its binary form: int16 dimensions, int16 unused, float4 values), into `out`. */
  vector(out: (dims: number) => Float32Array): void {
    const length = this.field();
    const dims = this.view.getInt16(this.offset);
    if (length !== 4 + 4 * dims) throw new Error('unexpected binary form of a vector');
    const target = out(dims);
    // Network byte order to the machine's: swap the bytes of each float into the target's memory.
    const from = this.offset + 4;
    const bytes = new Uint8Array(target.buffer, target.byteOffset, dims * 4);
    bytes.set(this.buffer.subarray(from, from + dims * 4));
    if (LITTLE_ENDIAN) swap32(bytes);
    this.offset += length;
  }

  private field(expected?: number): number {
    const length = this.view.getInt32(this.offset);
    this.offset += 4;
    if (length < 0) throw new Error('unexpected NULL');
    if (expected !== undefined && length !== expected)
      throw new Error(`expected ${expected} bytes, got ${length}`);
    return length;
  }
}

/** Vectors of one dimension, one after the other in a growing Float32Array. */
class VectorBuffer {
  dims = -1;
  private data = new Float32Array(0);
  private count = 0;

  push(reader: CopyReader): void {
    reader.vector((dims) => {
      if (this.dims === -1) this.dims = dims;
      else if (dims !== this.dims)
        throw new Error(`vectors of ${dims} and ${this.dims} dimensions in one model`);
      if ((this.count + 1) * dims > this.data.length) {
        const grown = new Float32Array(Math.max(1024, this.data.length * 2, (this.count + 1) * dims));
        grown.set(this.data);
        this.data = grown;
      }
      const start = this.count * dims;
      this.count++;
      return this.data.subarray(start, start + dims);
    });
  }

  values(): Float32Array {
    return this.data.slice(0, this.count * Math.max(this.dims, 0));
  }
}
