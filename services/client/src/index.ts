/**
 * The retail recommender's HTTP API as a typed client: the paths, parameters and answers are generated from
 * the gateway's OpenAPI document (schema.ts, `npm run generate:client`), and openapi-fetch sends the requests.
 *
 *   const api = createRetailClient({ baseUrl: 'http://localhost:8080' });
 *   const { data, error } = await api.GET('/api/users/{user_id}/recommendations', {
 *     params: { path: { user_id: '17850' }, query: { top_n: 5 } },
 *   });
 */
import createClient, { type Client, type ClientOptions } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, operations, paths } from './schema.js';

export type RetailClient = Client<paths>;

export interface RetailClientOptions extends ClientOptions {
  /** Sent as `Authorization: Bearer <key>` (the write endpoints need one of the gateway's API_KEYS). */
  apiKey?: string;
}

/** A client of the API at `baseUrl` (the gateway's origin, or a page's own origin that forwards /api). */
export function createRetailClient({ apiKey, ...options }: RetailClientOptions = {}): RetailClient {
  const client = createClient<paths>(options);
  if (apiKey !== undefined) {
    client.use({
      onRequest: ({ request }) => {
        request.headers.set('authorization', `Bearer ${apiKey}`);
        return request;
      },
    });
  }
  return client;
}

type Schemas = components['schemas'];

/** The answers, by the names of the document's schemas. */
export type UsersPage = Schemas['UsersPage'];
export type UserSummary = UsersPage['users'][number];
export type PurchasesResponse = Schemas['Purchases'];
export type Purchase = PurchasesResponse['purchases'][number];
export type RecommendationsResponse = Schemas['Recommendations'];
export type Recommendation = RecommendationsResponse['recommendations'][number];
export type ExplanationsResponse = Schemas['Explanations'];
export type Explanation = ExplanationsResponse['explanations'][number];
export type ExplanationStatus = Explanation['explanation_status'];
export type ExplanationSource = NonNullable<Explanation['explanation_source']>;
/** Every error: `{statusCode, error, message}`. */
export type ErrorBody = Schemas['Error'];
