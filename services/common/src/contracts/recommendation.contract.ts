/**
 * The request/response contract between the gateway and the recommendation service
 * (@nestjs/microservices, TCP). Payloads use the public API's snake_case names (DESIGN.md, "HTTP API").
 */

export const RecommendationPatterns = {
  ListUsers: 'users.list',
  UserPurchases: 'users.purchases',
  UserExists: 'users.exists',
  Recommendations: 'users.recommendations',
  Health: 'health',
} as const;

export const MAX_TOP_N = 100;
export const DEFAULT_TOP_N = 12;

export interface ListUsersRequest {
  /** Customer id prefix (digits), or '' for everyone. */
  query: string;
  limit: number;
  offset: number;
}

export interface UserSummary {
  user_id: string;
  products_bought: number;
  country: string;
}

export interface ListUsersResponse {
  total: number;
  users: UserSummary[];
}

export interface UserRequest {
  userId: number;
}

export interface UserExistsResponse {
  exists: boolean;
}

export interface Purchase {
  product_id: string;
  description: string;
  times_bought: number;
  /** Shop-local time of the last purchase, ISO 8601 without zone (as the data set records it). */
  last_purchased_at: string;
}

export interface PurchasesResponse {
  user_id: string;
  purchases: Purchase[];
}

export interface RecommendationsRequest {
  userId: number;
  topN: number;
}

export interface RecommendedProduct {
  product_id: string;
  description: string;
  /**
   * The product's score for the user: for the description model the cosine similarity between the user's
   * vector and the product's, in [-1, 1]; for the co-purchase and hybrid models the inner product of their
   * vectors (higher is better, not bounded).
   */
  score: number;
}

export interface RecommendationsResponse {
  user_id: string;
  /** The model that ranked this list (its vectors' model name). */
  model: string;
  /** What the picks are based on: `description`, `copurchase` or `hybrid` (RECOMMENDER_MODEL's kinds). */
  basis: 'description' | 'copurchase' | 'hybrid';
  recommendations: RecommendedProduct[];
  /** Why the list is empty, when it is. */
  reason?: string;
  /** Set when the configured model could not rank for this customer and the description model did instead. */
  fallback?: string;
}

/** Error codes carried by RpcException payloads; the gateway turns them into HTTP statuses. */
export type RpcErrorCode = 'not_found' | 'bad_request' | 'unavailable';

export interface RpcErrorPayload {
  code: RpcErrorCode;
  message: string;
}

const RPC_ERROR_CODES: readonly string[] = [
  'not_found',
  'bad_request',
  'unavailable',
] satisfies RpcErrorCode[];

export function isRpcErrorPayload(value: unknown): value is RpcErrorPayload {
  return (
    typeof value === 'object' &&
    value !== null &&
    RPC_ERROR_CODES.includes((value as RpcErrorPayload).code) &&
    typeof (value as RpcErrorPayload).message === 'string'
  );
}
