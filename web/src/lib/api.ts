/**
 * Typed helpers for the shop API. The browser only ever calls its own origin (`/api/...`); the web server
 * forwards those requests to the gateway (src/routes/api/[...path]/+server.ts).
 */

export interface UserSummary {
  user_id: string;
  products_bought: number;
  country: string;
}

export interface UsersPage {
  total: number;
  users: UserSummary[];
}

export interface Purchase {
  product_id: string;
  description: string;
  times_bought: number;
  /** Shop-local time without a zone, e.g. `2010-12-02T15:27:00`. */
  last_purchased_at: string;
}

export interface PurchasesResponse {
  user_id: string;
  purchases: Purchase[];
}

export type ExplanationStatus = 'pending' | 'ready' | 'failed';
export type ExplanationSource = 'llm' | 'template';

export interface Explanation {
  product_id: string;
  explanation_status: ExplanationStatus;
  /** `null` while the status is `pending`. */
  explanation: string | null;
  explanation_source: ExplanationSource | null;
}

export interface Recommendation extends Explanation {
  description: string;
  /** Cosine similarity between the product and the customer's taste, -1..1. */
  score: number;
}

export interface RecommendationsResponse {
  user_id: string;
  model: string;
  recommendations: Recommendation[];
  /** Set (and the list empty) when none of the customer's products has a vector yet. */
  reason?: string;
}

export interface ExplanationsResponse {
  user_id: string;
  explanations: Explanation[];
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

/** Customer numbers are digits (the gateway answers 400 to anything else). */
export function isCustomerNumber(value: string): boolean {
  return /^\d{1,18}$/.test(value);
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
