import { GATEWAY_API_KEY, GATEWAY_URL } from '$app/env/private';
import { buy, parseBuyRequest } from '#lib/server/buy.ts';
import { jsonError } from '#lib/server/gateway-proxy.ts';
import type { RequestHandler } from './$types';

/**
 * The page's Buy: POST `{user_id, product_id}` as JSON buys one unit of the product for the customer
 * (see buy()): 201 with what was bought, or `{statusCode, error, message}`. JSON only, so a form on another
 * site cannot post here (SvelteKit refuses cross-site form posts; a JSON post from another origin needs CORS,
 * which this server never grants).
 */
export const POST: RequestHandler = async ({ request, getClientAddress }) => {
  if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
    return jsonError(415, 'Unsupported Media Type', 'send {"user_id", "product_id"} as application/json');
  }
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return jsonError(400, 'Bad Request', 'the body is not JSON');
  }
  const wanted = parseBuyRequest(body);
  if (wanted instanceof Response) return wanted;
  return buy(
    wanted,
    { clientAddress: getClientAddress(), signal: request.signal },
    { url: GATEWAY_URL, apiKey: GATEWAY_API_KEY },
  );
};
