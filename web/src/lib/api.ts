/**
 * Typed helpers for the shop API. The browser only ever calls its own origin (`/api/...`); the web server
 * forwards those requests to the gateway (src/routes/api/[...path]/+server.ts).
 */

// The answers' types come from the API's own schemas (@retail/contracts), the same ones the gateway validates
// and documents with: one source for the contract. Type-only imports: no schema code reaches the browser.
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
} from '@retail/contracts';
import type {
  ExplanationsResponse,
  PurchasesResponse,
  RecommendationsResponse,
  UsersPage,
} from '@retail/contracts';
export { isCustomerNumber } from '@retail/contracts/rules';

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

async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, { headers: { accept: 'application/json' }, signal });
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
  if (body === undefined) throw new ApiError(502, 'The shop sent an answer that could not be read.');
  return body as T;
}

const userPath = (userId: string) => `/api/users/${encodeURIComponent(userId)}`;

/** Customers with purchase history whose number starts with `query` (digits, may be empty). */
export function listUsers(query: string, limit = 50, signal?: AbortSignal): Promise<UsersPage> {
  const params = new URLSearchParams({ limit: String(limit) });
  if (query) params.set('query', query);
  return getJson(`/api/users?${params}`, signal);
}

export function getPurchases(userId: string, signal?: AbortSignal): Promise<PurchasesResponse> {
  return getJson(`${userPath(userId)}/purchases`, signal);
}

/** The page shows them to a person: `explanations=now` has their sentences written before any background work. */
export function getRecommendations(
  userId: string,
  topN = 12,
  signal?: AbortSignal,
): Promise<RecommendationsResponse> {
  return getJson(`${userPath(userId)}/recommendations?top_n=${topN}&explanations=now`, signal);
}

export function getExplanations(
  userId: string,
  productIds: string[],
  signal?: AbortSignal,
): Promise<ExplanationsResponse> {
  const ids = productIds.map(encodeURIComponent).join(',');
  return getJson(`${userPath(userId)}/recommendations/explanations?product_ids=${ids}`, signal);
}
