/**
 * The shop API as the page uses it, through the typed client generated from the API's OpenAPI document
 * (@retail/client: the page is its first user). The browser only ever calls its own origin (`/api/...`); the
 * web server forwards those requests to the gateway (src/routes/api/[...path]/+server.ts).
 */
import {
  createRetailClient,
  type ExplanationsResponse,
  type PurchasesResponse,
  type RecommendationsResponse,
  type RetailClient,
  type UsersPage,
} from '@retail/client';

// The answers' types come from the document the gateway publishes, generated from the API's own schemas.
export type {
  Explanation,
  ExplanationSource,
  ExplanationStatus,
  ExplanationsResponse,
  Purchase,
  PurchasesResponse,
  Recommendation,
  RecommendationsResponse,
  UserSummary,
  UsersPage,
} from '@retail/client';
export { isCustomerNumber } from '@retail/contracts/rules';

/** How many recommendations the page shows (and the products its Buy offers are checked against). */
export const TOP_N = 12;

/** Where the page's Buy posts `{user_id, product_id}` (its own server: src/routes/retail_shop/buy). */
export const BUY_PATH = '/retail_shop/buy';

/** What a Buy bought: one unit, at the price the shop had for it, on a new invoice. */
export interface Bought {
  user_id: string;
  product_id: string;
  description: string;
  quantity: number;
  /** GBP */
  unit_price: number;
  invoice_no: string;
  /** shop-local time, `YYYY-MM-DD HH:MM:SS` */
  invoice_date: string;
  country: string;
}

/** A failed API call: `status` is the HTTP status, or 0 when the web server itself could not be reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The shop (or a service behind it) is down: worth a retry later. */
  get unavailable(): boolean {
    return this.status === 0 || this.status >= 500;
  }
}

/** True for the rejection of a request that was cancelled on purpose (the customer changed, say). */
export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === 'AbortError';
}

let client: RetailClient | undefined;

/** The client of this page's own origin (made on first use: the browser's location gives the origin). */
function api(): RetailClient {
  const { location } = globalThis as unknown as { location: { origin: string } };
  client ??= createRetailClient({
    baseUrl: location.origin,
    headers: { accept: 'application/json' },
  });
  return client;
}

/** What every call of the client answers: the body, or the error body, and the response. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The answer's body, or an ApiError saying what went wrong (aborts are passed on as they are). */
async function call<T>(request: () => Promise<Answer<T>>, signal?: AbortSignal): Promise<T> {
  let answer: Answer<T>;
  try {
    answer = await request();
  } catch (error) {
    if (isAbort(error) || signal?.aborted) throw error;
    if (error instanceof SyntaxError) {
      throw new ApiError(502, 'The shop sent an answer that could not be read.');
    }
    throw new ApiError(0, 'The shop cannot be reached. Check the connection and try again.');
  }
  const { data, error, response } = answer;
  if (!response.ok) {
    const message =
      typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string'
        ? error.message
        : response.statusText || `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  if (data === undefined) throw new ApiError(502, 'The shop sent an answer that could not be read.');
  return data;
}

/** Customers with purchase history whose number starts with `query` (digits, may be empty). */
export function listUsers(query: string, limit = 50, signal?: AbortSignal): Promise<UsersPage> {
  return call(
    () => api().GET('/api/users', { params: { query: { limit, ...(query ? { query } : {}) } }, signal }),
    signal,
  );
}

export function getPurchases(userId: string, signal?: AbortSignal): Promise<PurchasesResponse> {
  return call(
    () => api().GET('/api/users/{user_id}/purchases', { params: { path: { user_id: userId } }, signal }),
    signal,
  );
}

/** The page shows them to a person: `explanations=now` has their sentences written before any background work. */
export function getRecommendations(
  userId: string,
  topN = 12,
  signal?: AbortSignal,
): Promise<RecommendationsResponse> {
  return call(
    () =>
      api().GET('/api/users/{user_id}/recommendations', {
        params: { path: { user_id: userId }, query: { top_n: topN, explanations: 'now' } },
        signal,
      }),
    signal,
  );
}

export function getExplanations(
  userId: string,
  productIds: string[],
  signal?: AbortSignal,
): Promise<ExplanationsResponse> {
  return call(
    () =>
      api().GET('/api/users/{user_id}/recommendations/explanations', {
        params: { path: { user_id: userId }, query: { product_ids: productIds.join(',') } },
        signal,
      }),
    signal,
  );
}

/**
 * Buys one unit of `productId` for `userId` through the page's own server, which looks the product up and
 * posts the purchase to the shop with its key (src/lib/server/buy.ts).
 */
export async function buyProduct(userId: string, productId: string, signal?: AbortSignal): Promise<Bought> {
  let response: Response;
  try {
    response = await fetch(BUY_PATH, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ user_id: userId, product_id: productId }),
      signal,
    });
  } catch (error) {
    if (isAbort(error) || signal?.aborted) throw error;
    throw new ApiError(0, 'The shop cannot be reached. Check the connection and try again.');
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch (error) {
    if (isAbort(error) || signal?.aborted) throw error;
    body = undefined;
  }
  if (!response.ok) {
    const message =
      typeof body === 'object' && body !== null && 'message' in body && typeof body.message === 'string'
        ? body.message
        : response.statusText || `HTTP ${response.status}`;
    throw new ApiError(response.status, message);
  }
  if (typeof body !== 'object' || body === null) {
    throw new ApiError(502, 'The shop sent an answer that could not be read.');
  }
  return body as Bought;
}
