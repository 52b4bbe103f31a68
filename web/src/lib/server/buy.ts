/**
 * The page's "Buy" on its server: one purchase line for the chosen customer and product, posted to the
 * gateway's POST /api/purchases with the server's own API key (GATEWAY_API_KEY; the browser never sees it).
 *
 * The browser only names the customer and the product. What is bought is looked up here, from the gateway:
 * the product must be one of the customer's current recommendations (what the page shows them), and its
 * description and price are the ones that answer carries. The quantity is 1, the invoice number is made
 * here, the date is now (shop-local, London), the country is the customer's (or the shop's own, the United
 * Kingdom, when the shop does not know it).
 *
 * This demo trusts the customer number it is given: a real shop would sign its shoppers in and take the
 * customer from the session.
 */
import { randomBytes } from 'node:crypto';
import { createRetailClient, type RetailClient } from '@retail/client';
import { customerId, isCustomerNumber, PRODUCT_ID } from '@retail/contracts/rules';
import type { Bought } from '../api.ts';
import { GATEWAY_TIMEOUT_MS, jsonError, type Gateway } from './gateway-proxy.ts';

/** How many recommendations the page shows, hence where a product it offers must be found. */
export const OFFERED = 12;
/** The shop's own country, for a customer whose country it does not know. */
export const DEFAULT_COUNTRY = 'United Kingdom';

/** What the browser sends: `{user_id, product_id}`. */
export interface BuyRequest {
  userId: string;
  productId: string;
}

/** The request's customer and product, or a 400 saying what is wrong with it. */
export function parseBuyRequest(body: unknown): BuyRequest | Response {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return jsonError(400, 'Bad Request', 'the body must be a JSON object: {"user_id", "product_id"}');
  }
  const { user_id: user, product_id: product } = body as Record<string, unknown>;
  const userId = typeof user === 'string' ? user.trim() : typeof user === 'number' ? String(user) : '';
  if (!isCustomerNumber(userId) || customerId(userId) === undefined) {
    return jsonError(400, 'Bad Request', 'user_id must be a customer number: digits, like 17850');
  }
  const productId = typeof product === 'string' ? product.trim().toUpperCase() : '';
  if (!PRODUCT_ID.test(productId)) {
    return jsonError(
      400,
      'Bad Request',
      'product_id must be a product number (StockCode): letters, digits, `_`, `-` and spaces, 1-32 characters',
    );
  }
  return { userId, productId };
}

/** A fresh invoice number: `W` (bought on the web page), the time in base 36, and 40 random bits. */
export function newInvoiceNumber(now = Date.now()): string {
  return `W${now.toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
}

// sv-SE writes dates as `YYYY-MM-DD HH:MM:SS`, the data's own format.
const shopTime = new Intl.DateTimeFormat('sv-SE', {
  timeZone: 'Europe/London',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** `date` in shop-local time (the shop is in the UK), as the purchase lines write it. */
export function shopLocalTime(date = new Date()): string {
  return shopTime.format(date);
}

/** What every call of the client answers. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** The gateway's error message, for the shopper. */
function messageOf(error: unknown, response: Response): string {
  return typeof error === 'object' &&
    error !== null &&
    'message' in error &&
    typeof error.message === 'string'
    ? error.message
    : response.statusText || `HTTP ${response.status}`;
}

/** A refusal of the gateway passed on to the browser (status and message; never its headers but Retry-After). */
function passOn(error: unknown, response: Response): Response {
  if (response.status === 401 || response.status === 403) {
    // the page's server is the one without a valid key: not the shopper's fault, and not theirs to fix
    console.error(`buying: the gateway refused the web server's API key (${response.status})`);
    return notSetUp();
  }
  const answer = jsonError(response.status, response.statusText || 'Error', messageOf(error, response));
  const retryAfter = response.headers.get('retry-after');
  if (retryAfter !== null) answer.headers.set('retry-after', retryAfter);
  return answer;
}

function notSetUp(): Response {
  return jsonError(
    503,
    'Service Unavailable',
    'buying is not set up in this shop: its web server needs GATEWAY_API_KEY, one of the API_KEYS of the gateway',
  );
}

class Unreachable extends Error {
  constructor(readonly timedOut: boolean) {
    super(timedOut ? 'timeout' : 'unreachable');
  }
}

async function call<T>(request: () => Promise<Answer<T>>): Promise<Answer<T>> {
  try {
    return await request();
  } catch (error) {
    throw new Unreachable(error instanceof DOMException && error.name === 'TimeoutError');
  }
}

/**
 * Buys one unit of `productId` for `userId` (see the module's comment): 201 with what was bought, or the
 * reason it was not, as `{statusCode, error, message}` (400 and 404 from the gateway passed on; 409 when the
 * product is not offered to the customer any more, or has no price; 503 when the gateway cannot be reached
 * or the web server has no valid API key).
 */
export async function buy(
  { userId, productId }: BuyRequest,
  { clientAddress, signal }: { clientAddress: string; signal?: AbortSignal },
  gateway: Gateway,
): Promise<Response> {
  if (!gateway.apiKey) {
    console.error('buying: GATEWAY_API_KEY is not set, so the gateway refuses every purchase');
    return notSetUp();
  }
  const timeout = AbortSignal.timeout(GATEWAY_TIMEOUT_MS);
  const client: RetailClient = createRetailClient({
    baseUrl: gateway.url,
    apiKey: gateway.apiKey,
    // the gateway counts the shopper (this server is one of its TRUSTED_PROXIES), as the /api proxy does
    headers: { accept: 'application/json', 'x-forwarded-for': clientAddress },
  });
  const options = { signal: signal ? AbortSignal.any([signal, timeout]) : timeout };

  try {
    const [offered, customers] = await Promise.all([
      call(() =>
        client.GET('/api/users/{user_id}/recommendations', {
          params: { path: { user_id: userId }, query: { top_n: OFFERED } },
          ...options,
        }),
      ),
      call(() => client.GET('/api/users', { params: { query: { query: userId, limit: 1 } }, ...options })),
    ]);
    if (!offered.data) return passOn(offered.error, offered.response);
    const product = offered.data.recommendations.find((item) => item.product_id === productId);
    if (!product) {
      return jsonError(
        409,
        'Conflict',
        `product ${productId} is not among the products offered to customer ${userId} (any more): ` +
          'their recommendations have changed',
      );
    }
    if (product.unit_price === null) {
      return jsonError(409, 'Conflict', `product ${productId} has no price: it cannot be bought here`);
    }
    const customer = customers.data?.users.find((user) => user.user_id === userId);

    const line = {
      invoice_no: newInvoiceNumber(),
      stock_code: product.product_id,
      description: product.description,
      quantity: 1,
      invoice_date: shopLocalTime(),
      unit_price: product.unit_price,
      customer_id: customerId(userId)!,
      country: customer?.country || DEFAULT_COUNTRY,
    };
    // once asked for, the purchase is made even if the shopper leaves meanwhile (only the timeout stops it)
    const posted = await call(() =>
      client.POST('/api/purchases', { body: { lines: [line] }, signal: timeout }),
    );
    if (!posted.data) return passOn(posted.error, posted.response);
    if (posted.data.accepted !== 1) {
      const reason = posted.data.dropped[0]?.reason ?? (posted.data.duplicates > 0 ? 'duplicate' : 'unknown');
      return jsonError(502, 'Bad Gateway', `the shop did not record the purchase (${reason})`);
    }

    const bought: Bought = {
      user_id: userId,
      product_id: line.stock_code,
      description: line.description,
      quantity: line.quantity,
      unit_price: line.unit_price,
      invoice_no: line.invoice_no,
      invoice_date: line.invoice_date,
      country: line.country,
    };
    return new Response(JSON.stringify(bought), {
      status: 201,
      headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    });
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    return jsonError(
      error.timedOut ? 504 : 503,
      error.timedOut ? 'Gateway Timeout' : 'Service Unavailable',
      error.timedOut
        ? `the shop API did not answer within ${GATEWAY_TIMEOUT_MS / 1000} s`
        : 'the shop API cannot be reached right now',
    );
  }
}
