/**
 * The gateway <-> recommendation service messages live in @retail/contracts (with the HTTP schemas they
 * share); re-exported here for the services that import them from @retail/common.
 */
export {
  DEFAULT_TOP_N,
  MAX_TOP_N,
  RecommendationPatterns,
  isRpcErrorPayload,
  type KnownProductsRequest,
  type KnownProductsResponse,
  type ListUsersRequest,
  type ListUsersResponse,
  type Purchase,
  type PurchasesResponse,
  type RankedList as RecommendationsResponse,
  type RankedProduct as RecommendedProduct,
  type RecommendationsRequest,
  type RpcErrorCode,
  type RpcErrorPayload,
  type UserExistsResponse,
  type UserRequest,
  type UserSummary,
} from '@retail/contracts';
