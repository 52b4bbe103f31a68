import { MAX_TOP_N, type ServedModel } from '@retail/common';
import { BATCH, ProductMatrix } from './product-matrix.js';

export interface CatalogRow {
  productId: string;
  description: string;
  isMerchandise: boolean;
}

export interface CustomerRow {
  customerId: number;
  purchasesHash: string;
  itemsHash: string;
}

/** A model's vectors as loaded: `rows` merchandise products, their vectors one after the other. */
export interface VectorsSnapshot {
  model: string;
  /** embedding_models.version when the vectors were read (the same snapshot). */
  version: number;
  productIds: string[];
  dims: number;
  /** rows x dims: the description vectors, or a factor model's item vectors. */
  vectors: Float32Array;
}

export interface FactorSnapshot extends VectorsSnapshot {
  kind: 'copurchase' | 'hybrid';
  rank: number;
  /** rows x rank: what buying each product adds to a customer's vector. */
  inputs: Float32Array;
  /** The hybrid's leading dimensions (its description part); 0 for the co-purchase model. */
  descriptionDims: number;
}

/** A customer's ranked list in one model: the best MAX_TOP_N products, best first. */
export interface RankedList {
  /** Catalog indices (RankingEngine.productId / description). */
  products: Int32Array;
  scores: Float64Array;
  /** Merchandise bought that has a vector in the model (below the threshold: a cold-start customer). */
  withVectors: number;
  purchasesHash: string;
  /** The model's version the list was computed from (and, for the hybrid, its description model's). */
  version: number;
  descriptionVersion: number;
}

interface Customer {
  purchasesHash: string;
  itemsHash: string;
  /** Catalog indices of everything bought (merchandise or not). */
  items: Int32Array;
}

interface LoadedModel {
  name: string;
  version: number;
  /** Catalog index of each row. */
  products: Int32Array;
  /** Row of each catalog index (-1: no vector), for the catalog indices known when it was loaded. */
  rowOf: Int32Array;
  matrix: ProductMatrix;
}

interface DescriptionModel extends LoadedModel {
  dims: number;
  /** The vectors by row, their non-zero values only (description vectors are often sparse). */
  sparse: SparseRows;
}

interface SparseRows {
  ptr: Int32Array;
  idx: Int32Array;
  val: Float32Array;
}

interface FactorModel extends LoadedModel {
  kind: 'copurchase' | 'hybrid';
  rank: number;
  inputs: Float32Array;
  descriptionDims: number;
}

/** Which list a request (or the refresher) wants: the served model's, or the description model's. */
export type ListModel = 'served' | 'description';

/**
 * Everything the exact rankings are computed from, in memory: the catalog, each customer's purchases, and
 * the vectors of the served model and of its description model (Postgres stays the record: the
 * InputsSync loads this state from it and keeps it current). Lists are computed here, exactly as the SQL
 * rankings did (same user vectors, exclusions and tie-breaking), and kept until their inputs change.
 */
export class RankingEngine {
  private readonly ids: string[] = [];
  private readonly indexOf = new Map<string, number>();
  private descriptions: string[] = [];
  private merchandise: boolean[] = [];
  /** Per catalog index, the catalog indices of every product with the same non-empty description. */
  private sameDescription: Int32Array[] = [];
  private customers = new Map<number, Customer>();
  private description: DescriptionModel | undefined;
  private factor: FactorModel | undefined;
  /** Scratch for the selection of the best scores. */
  private work = new Float64Array(0);
  private readonly lists = {
    served: new Map<number, RankedList>(),
    description: new Map<number, RankedList>(),
  };

  constructor(
    readonly served: ServedModel,
    readonly minPurchases: number,
  ) {}

  // ---- the inputs ----

  setCatalog(rows: readonly CatalogRow[]): void {
    const descriptions = this.ids.map(() => '');
    const merchandise = this.ids.map(() => false);
    for (const row of rows) {
      const i = this.index(row.productId);
      descriptions[i] = row.description;
      merchandise[i] = row.isMerchandise;
    }
    const groups = new Map<string, number[]>();
    descriptions.forEach((description, i) => {
      if (description === '') return;
      const group = groups.get(description);
      if (group) group.push(i);
      else groups.set(description, [i]);
    });
    const none = new Int32Array(0);
    this.sameDescription = descriptions.map((description) =>
      description === '' ? none : Int32Array.from(groups.get(description)!),
    );
    this.descriptions = descriptions;
    this.merchandise = merchandise;
  }

  /** Replaces the customers and their purchases (`items`: customer id -> product ids bought). */
  setCustomers(rows: readonly CustomerRow[], items: ReadonlyMap<number, readonly string[]>): void {
    const customers = new Map<number, Customer>();
    for (const row of rows) {
      const bought = items.get(row.customerId) ?? [];
      customers.set(row.customerId, {
        purchasesHash: row.purchasesHash,
        itemsHash: row.itemsHash,
        items: Int32Array.from(bought, (id) => this.index(id)),
      });
    }
    this.customers = customers;
    for (const lists of Object.values(this.lists)) {
      for (const id of lists.keys()) if (!customers.has(id)) lists.delete(id);
    }
  }

  setDescriptionModel(snapshot: VectorsSnapshot | undefined): void {
    if (!snapshot || snapshot.productIds.length === 0) {
      this.description = undefined;
      return;
    }
    this.description = {
      ...this.load(snapshot),
      dims: snapshot.dims,
      sparse: sparseRows(snapshot.vectors, snapshot.productIds.length, snapshot.dims),
    };
  }

  /** The served co-purchase or hybrid model; undefined while it is not trained. */
  setFactorModel(snapshot: FactorSnapshot | undefined): void {
    if (!snapshot || snapshot.productIds.length === 0) {
      this.factor = undefined;
      return;
    }
    this.factor = {
      ...this.load(snapshot),
      kind: snapshot.kind,
      rank: snapshot.rank,
      inputs: snapshot.inputs,
      descriptionDims: snapshot.descriptionDims,
    };
  }

  // ---- what the service asks ----

  hasCustomer(customerId: number): boolean {
    return this.customers.has(customerId);
  }

  /** How many merchandise products the customer bought (postage, fees and the like left out). */
  merchandiseBought(customerId: number): number {
    const items = this.customers.get(customerId)?.items ?? [];
    let count = 0;
    for (const product of items) if (this.merchandise[product]) count++;
    return count;
  }

  customerIds(): IterableIterator<number> {
    return this.customers.keys();
  }

  /** The customer's purchases_hash (undefined for an unknown customer). */
  purchasesHash(customerId: number): string | undefined {
    return this.customers.get(customerId)?.purchasesHash;
  }

  /** Whether the served co-purchase or hybrid model has vectors (false for the description model). */
  isTrained(): boolean {
    return this.factor !== undefined;
  }

  /** How the vectors of `which` are laid out (for logs). */
  layout(which: ListModel): string {
    return this.modelOf(which)?.matrix.describe() ?? 'no vectors';
  }

  productId(index: number): string {
    return this.ids[index]!;
  }

  productDescription(index: number): string {
    return this.descriptions[index]!;
  }

  /** The customer's current list in `which`, computed now when there is none or its inputs changed. */
  list(which: ListModel, customerId: number): RankedList | undefined {
    const fresh = this.freshList(which, customerId);
    if (fresh) return fresh;
    if (!this.customers.has(customerId)) return undefined;
    this.compute(which, [customerId]);
    return this.lists[this.listKind(which)].get(customerId);
  }

  /** The kept list when it is current, else undefined. */
  freshList(which: ListModel, customerId: number): RankedList | undefined {
    const list = this.lists[this.listKind(which)].get(customerId);
    return list && this.isCurrent(which, customerId, list) ? list : undefined;
  }

  /**
   * Computes (and keeps) the lists of `customerIds` in `which`, BATCH at a time; returns the lists computed.
   */
  compute(which: ListModel, customerIds: readonly number[]): Map<number, RankedList> {
    const done = new Map<number, RankedList>();
    for (let start = 0; start < customerIds.length; start += BATCH) {
      this.computeBatch(which, customerIds.slice(start, start + BATCH), done);
    }
    const kept = this.lists[this.listKind(which)];
    for (const [id, list] of done) kept.set(id, list);
    return done;
  }

  /** Customers whose list in `which` is missing or out of date, at most `limit`. */
  staleCustomers(which: ListModel, limit: number, only?: (customerId: number) => boolean): number[] {
    const stale: number[] = [];
    const lists = this.lists[this.listKind(which)];
    for (const id of this.customers.keys()) {
      if (stale.length >= limit) break;
      const list = lists.get(id);
      if ((!list || !this.isCurrent(which, id, list)) && (!only || only(id))) stale.push(id);
    }
    return stale;
  }

  // ---- internals ----

  private index(productId: string): number {
    let i = this.indexOf.get(productId);
    if (i === undefined) {
      i = this.ids.length;
      this.ids.push(productId);
      this.indexOf.set(productId, i);
      this.descriptions.push('');
      this.merchandise.push(false);
      this.sameDescription.push(new Int32Array(0));
    }
    return i;
  }

  private load(snapshot: VectorsSnapshot): LoadedModel {
    const products = Int32Array.from(snapshot.productIds, (id) => this.index(id));
    const rowOf = new Int32Array(this.ids.length).fill(-1);
    products.forEach((product, row) => (rowOf[product] = row));
    return {
      name: snapshot.model,
      version: snapshot.version,
      products,
      rowOf,
      matrix: new ProductMatrix(snapshot.vectors, snapshot.productIds.length, snapshot.dims),
    };
  }

  /** The lists of the description model are kept apart from the served model's, even when they are one. */
  private listKind(which: ListModel): ListModel {
    return which === 'served' && this.served.kind === 'description' ? 'description' : which;
  }

  private modelOf(which: ListModel): LoadedModel | undefined {
    return this.listKind(which) === 'served' ? this.factor : this.description;
  }

  private isCurrent(which: ListModel, customerId: number, list: RankedList): boolean {
    const customer = this.customers.get(customerId);
    const model = this.modelOf(which);
    if (!customer || list.purchasesHash !== customer.purchasesHash) return false;
    if ((model?.version ?? 0) !== list.version) return false;
    return this.listKind(which) !== 'served' || this.factor?.kind !== 'hybrid'
      ? true
      : (this.description?.version ?? 0) === list.descriptionVersion;
  }

  private computeBatch(which: ListModel, ids: readonly number[], done: Map<number, RankedList>): void {
    const model = this.modelOf(which);
    const users: Float64Array[] = [];
    const scored: { id: number; customer: Customer; withVectors: number }[] = [];
    const base = {
      version: model?.version ?? 0,
      descriptionVersion: this.description?.version ?? 0,
    };
    for (const id of ids) {
      const customer = this.customers.get(id);
      if (!customer) continue;
      const { vector, withVectors } = this.userVector(which, customer);
      if (!vector || !model) {
        done.set(id, {
          ...base,
          products: new Int32Array(0),
          scores: new Float64Array(0),
          withVectors,
          purchasesHash: customer.purchasesHash,
        });
        continue;
      }
      users.push(vector);
      scored.push({ id, customer, withVectors });
    }
    if (!model || users.length === 0) return;
    model.matrix.score(users, (k, scores) => {
      const { id, customer, withVectors } = scored[k]!;
      const top = this.top(model, customer, scores);
      done.set(id, { ...base, ...top, withVectors, purchasesHash: customer.purchasesHash });
    });
  }

  /**
   * The user's vector in `which` (float64, from the stored float32 vectors), and how many of their
   * merchandise products have a vector there. Undefined vector: nothing to rank with (no vector; or fewer
   * than minPurchases known to a co-purchase or hybrid model).
   */
  private userVector(
    which: ListModel,
    customer: Customer,
  ): { vector: Float64Array | undefined; withVectors: number } {
    if (this.listKind(which) === 'description') {
      const model = this.description;
      if (!model) return { vector: undefined, withVectors: 0 };
      const mean = new Float64Array(model.dims);
      const withVectors = this.addBoughtSparse(customer, model, mean);
      return { vector: withVectors > 0 && normalise(mean) ? mean : undefined, withVectors };
    }
    const model = this.factor!;
    const dims = model.matrix.dims;
    const vector = new Float64Array(dims);
    const withVectors = this.addBought(
      customer,
      model,
      model.inputs,
      model.rank,
      vector,
      model.descriptionDims,
    );
    if (withVectors < this.minPurchases || withVectors === 0) return { vector: undefined, withVectors };
    vector[dims - 1] = 1;
    if (model.kind === 'hybrid') {
      const description = this.description;
      if (description) {
        if (description.dims !== model.descriptionDims) {
          throw new Error(
            `the hybrid model was trained over ${model.descriptionDims}-dimensional description vectors, ` +
              `${description.name} has ${description.dims}: retrain it`,
          );
        }
        const part = vector.subarray(0, description.dims);
        if (this.addBoughtSparse(customer, description, part) > 0) {
          normalise(part);
        }
      }
    }
    return { vector, withVectors };
  }

  /** Adds the vectors (`source`, `width` floats per row) of the merchandise the customer bought. */
  private addBought(
    customer: Customer,
    model: LoadedModel,
    source: Float32Array,
    width: number,
    into: Float64Array,
    offset: number,
  ): number {
    let n = 0;
    for (const product of customer.items) {
      if (!this.merchandise[product]) continue;
      const row = product < model.rowOf.length ? model.rowOf[product]! : -1;
      if (row < 0) continue;
      n++;
      const from = row * width;
      for (let c = 0; c < width; c++) into[offset + c]! += source[from + c]!;
    }
    return n;
  }

  /** Adds the description vectors of the merchandise the customer bought. */
  private addBoughtSparse(customer: Customer, model: DescriptionModel, into: Float64Array): number {
    const { ptr, idx, val } = model.sparse;
    let n = 0;
    for (const product of customer.items) {
      if (!this.merchandise[product]) continue;
      const row = product < model.rowOf.length ? model.rowOf[product]! : -1;
      if (row < 0) continue;
      n++;
      for (let q = ptr[row]!, end = ptr[row + 1]!; q < end; q++) into[idx[q]!]! += val[q]!;
    }
    return n;
  }

  /**
   * The best MAX_TOP_N products by score, leaving out what the customer bought and every product described
   * exactly like it; ties by product id. `scores` (by row) is scratch: excluded rows are overwritten.
   */
  private top(
    model: LoadedModel,
    customer: Customer,
    scores: Float64Array,
  ): { products: Int32Array; scores: Float64Array } {
    const { rowOf, products } = model;
    const exclude = (product: number) => {
      const row = product < rowOf.length ? rowOf[product]! : -1;
      if (row >= 0) scores[row] = Number.NEGATIVE_INFINITY;
    };
    for (const product of customer.items) {
      exclude(product);
      for (const same of this.sameDescription[product]!) exclude(same);
    }
    // The MAX_TOP_N-th best score (quickselect on a copy of the scores left), then the rows at or above it
    // sorted by score, ties by product id.
    const work =
      this.work.length >= scores.length ? this.work : (this.work = new Float64Array(scores.length));
    let n = 0;
    for (let row = 0; row < scores.length; row++) {
      const score = scores[row]!;
      if (score !== Number.NEGATIVE_INFINITY) work[n++] = score;
    }
    const k = Math.min(MAX_TOP_N, n);
    if (k === 0) return { products: new Int32Array(0), scores: new Float64Array(0) };
    const threshold = kthLargest(work, n, k);
    const rows: number[] = [];
    for (let row = 0; row < scores.length; row++) if (scores[row]! >= threshold) rows.push(row);
    const ids = this.ids;
    rows.sort((a, b) => {
      const difference = scores[b]! - scores[a]!;
      if (difference !== 0) return difference;
      const x = ids[products[a]!]!;
      const y = ids[products[b]!]!;
      return x < y ? -1 : x > y ? 1 : 0;
    });
    if (rows.length > k) rows.length = k;
    return {
      products: Int32Array.from(rows, (row) => products[row]!),
      scores: Float64Array.from(rows, (row) => scores[row]!),
    };
  }
}
/** The k-th largest of values[0..n) (1 <= k <= n); reorders them (Hoare's quickselect). */
function kthLargest(values: Float64Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = values[(lo + hi) >> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! > pivot) i++;
      while (values[j]! < pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return values[target]!;
  }
  return values[target]!;
}

function sparseRows(vectors: Float32Array, rows: number, dims: number): SparseRows {
  let nnz = 0;
  for (let i = 0; i < vectors.length; i++) if (vectors[i] !== 0) nnz++;
  const ptr = new Int32Array(rows + 1);
  const idx = new Int32Array(nnz);
  const val = new Float32Array(nnz);
  let q = 0;
  for (let r = 0; r < rows; r++) {
    ptr[r] = q;
    for (let d = 0, at = r * dims; d < dims; d++, at++) {
      if (vectors[at] !== 0) {
        idx[q] = d;
        val[q] = vectors[at]!;
        q++;
      }
    }
  }
  ptr[rows] = q;
  return { ptr, idx, val };
}

/** Scales to unit length in place; false for a zero vector. */
function normalise(v: Float64Array): boolean {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i]! * v[i]!;
  if (sum === 0) return false;
  const norm = Math.sqrt(sum);
  for (let i = 0; i < v.length; i++) v[i]! /= norm;
  return true;
}
