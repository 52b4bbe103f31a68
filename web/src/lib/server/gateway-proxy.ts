/** How long the gateway may take before the page is told it is unavailable. */
export const GATEWAY_TIMEOUT_MS = 15_000;

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

/** Where to forward, and as whom. */
export interface Gateway {
  /** The gateway's origin (GATEWAY_URL). */
  url: string;
  /** One of the gateway's API keys (GATEWAY_API_KEY), sent with every request when set. */
  apiKey: string | undefined;
}

/** An error answer in the gateway's own shape, `{statusCode, error, message}`, never cached. */
export function jsonError(statusCode: number, error: string, message: string): Response {
  return new Response(JSON.stringify({ statusCode, error, message }), {
    status: statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
  });
}

/**
 * Forwards a GET of /api/... to the gateway with its query string, and hands back the gateway's status code
 * and JSON body unchanged; any other method is refused with 405 (the proxy only reads). When the gateway
 * cannot be reached: 503 JSON (504 when it is too slow).
 *
 * The gateway counts its rate limits per client: this server is a trusted proxy there (TRUSTED_PROXIES) and
 * names the shopper (`clientAddress`) in X-Forwarded-For, so the shop is not one client; a browser's own
 * X-Forwarded-For is never passed on. The browser's If-None-Match goes along, so a list that has not changed
 * comes back as a 304 that its cache answers.
 */
export async function forwardToGateway(
  { url, request, clientAddress }: { url: URL; request: Request; clientAddress: string },
  gateway: Gateway,
): Promise<Response> {
  // Reads only: the shop's writes need the server's API key, and are made by routes of their own (buy).
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const refused = jsonError(
      405,
      'Method Not Allowed',
      `${request.method} is not forwarded: /api is read-only`,
    );
    refused.headers.set('allow', 'GET, HEAD');
    return refused;
  }
  // Resolve against the gateway and refuse anything that would leave /api/ (`..`, `%2e%2e`).
  const target = new URL(url.pathname + url.search, gateway.url);
  if (target.origin !== gateway.url || !target.pathname.startsWith('/api/')) {
    return jsonError(404, 'Not Found', `Cannot GET ${url.pathname}`);
  }

  const headers: Record<string, string> = { accept: 'application/json', 'x-forwarded-for': clientAddress };
  const ifNoneMatch = request.headers.get('if-none-match');
  if (ifNoneMatch !== null) headers['if-none-match'] = ifNoneMatch;
  if (gateway.apiKey) headers.authorization = `Bearer ${gateway.apiKey}`;

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
}
