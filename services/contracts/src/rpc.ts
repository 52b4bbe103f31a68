import type { PurchaseLine } from './http/purchases.js';
import type { ListUsersQuery, UsersList } from './http/users.js';

/**
 * The request/response messages between the gateway and the recommendation service (@nestjs/microservices,
 * TCP). Answers use the public API's shapes (the HTTP schemas) so that the gateway passes them through.
 */
export const RecommendationPatterns = {
  ListUsers: 'users.list',
  UserPurchases: 'users.purchases',
  UserExists: 'users.exists',
  Recommendations: 'users.recommendations',
  KnownProducts: 'products.known',
  RecordPurchases: 'purchases.record',
  PutProduct: 'products.put',
  RetireProduct: 'products.retire',
  SimilarProducts: 'products.similar',
  EraseUser: 'users.erase',
  Health: 'health',
} as const;

export type ListUsersRequest = ListUsersQuery;
export type ListUsersResponse = UsersList;
export interface UserRequest {
  userId: number;
}
export interface UserExistsResponse {
  exists: boolean;
}
/** products.known: which of these product ids the catalog holds. */
export interface KnownProductsRequest {
  productIds: string[];
}
export interface KnownProductsResponse {
  /** The ids of the request that are in the catalog, in the request's order. */
  known: string[];
}
/** purchases.record: a batch of lines (validated by the gateway's schema); answered with PurchasesAccepted. */
export interface RecordPurchasesRequest {
  lines: PurchaseLine[];
}
/** products.put: answered with Product. */
export interface PutProductRequest {
  productId: string;
  description: string;
  unitPrice?: number;
}
/** products.retire: answered with Product. */
export interface ProductIdRequest {
  productId: string;
}
/** products.similar: answered with SimilarProducts. */
export interface SimilarProductsRequest {
  productId: string;
  topN: number;
}
/** users.erase: answered with UserErased (not_found when nothing was ever known of the customer). */
export type EraseUserRequest = UserRequest;

/** Answered with a RankedList; users.purchases with PurchasesResponse (the HTTP shapes). */
export interface RecommendationsRequest {
  userId: number;
  topN: number;
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
