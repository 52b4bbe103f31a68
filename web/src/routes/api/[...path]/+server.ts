import { GATEWAY_API_KEY, GATEWAY_URL } from '$app/env/private';
import type { RequestHandler } from './$types';

/** How long the gateway may take before the page is told it is unavailable. */
const GATEWAY_TIMEOUT_MS = 15_000;

/**
 * Response headers worth passing on (not hop-by-hop ones, not the gateway's compression): the body's type,
 * how it may be cached and revalidated, the next page, and the rate limit.
 */
const FORWARDED_HEADERS = [
  'content-type',
  'cache-control',
  'etag',
  'link',
  'retry-after',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'ratelimit-policy',
];

function jsonError(statusCode: number, error: string, message: string): Response {
  return new Response(JSON.stringify({ statusCode, error, message }), {
    status: statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  });
}

/**
 * Same-origin proxy: GET /api/... on the web server is forwarded to the gateway (GATEWAY_URL) with its
 * query string, and the gateway's status code and JSON body come back unchanged. The browser never talks
 * to the gateway itself (no CORS, one origin). When the gateway cannot be reached: 503 JSON.
 *
 * The gateway counts its rate limits per client: this server is a trusted proxy there (TRUSTED_PROXIES) and
 * names the shopper in X-Forwarded-For (the address adapter-node sees, through its own ADDRESS_HEADER and
 * XFF_DEPTH when it is behind a proxy itself; a browser's own X-Forwarded-For is never passed on), so the
 * shop is not one client. The browser's If-None-Match goes along, so a list that has not changed comes back
 * as a 304 from its cache.
 */
export const GET: RequestHandler = async ({ url, request, getClientAddress }) => {
  // Resolve against the gateway and refuse anything that would leave /api/ (`..`, `%2e%2e`).
  const target = new URL(url.pathname + url.search, GATEWAY_URL);
  if (target.origin !== GATEWAY_URL || !target.pathname.startsWith('/api/')) {
    return jsonError(404, 'Not Found', `Cannot GET ${url.pathname}`);
  }

  const headers: Record<string, string> = {
    accept: 'application/json',
    'x-forwarded-for': getClientAddress(),
  };
  const ifNoneMatch = request.headers.get('if-none-match');
  if (ifNoneMatch !== null) headers['if-none-match'] = ifNoneMatch;
  if (GATEWAY_API_KEY) headers.authorization = `Bearer ${GATEWAY_API_KEY}`;

  let upstream: Response;
  try {
    upstream = await fetch(target, {
      headers,
      signal: AbortSignal.any([request.signal, AbortSignal.timeout(GATEWAY_TIMEOUT_MS)]),
    });
  } catch (error) {
    const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
    return jsonError(
      timedOut ? 504 : 503,
      timedOut ? 'Gateway Timeout' : 'Service Unavailable',
      timedOut
        ? `the shop API did not answer within ${GATEWAY_TIMEOUT_MS / 1000} s`
        : 'the shop API cannot be reached right now',
    );
  }

  const forwarded = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = upstream.headers.get(name);
    if (value !== null) forwarded.set(name, value);
  }
  if (!forwarded.has('cache-control')) forwarded.set('cache-control', 'no-store');
  // fetch() already decoded any content-encoding, so the body is passed on as plain bytes.
  const body = upstream.status === 204 || upstream.status === 304 ? null : await upstream.arrayBuffer();
  return new Response(body, { status: upstream.status, headers: forwarded });
};
