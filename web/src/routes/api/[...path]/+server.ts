import { GATEWAY_API_KEY, GATEWAY_URL } from '$app/env/private';
import { forwardToGateway } from '#lib/server/gateway-proxy.ts';
import type { RequestHandler } from './$types';

/**
 * Same-origin proxy: GET /api/... on the web server goes to the gateway (GATEWAY_URL), as the shopper's
 * request (see forwardToGateway). The browser never talks to the gateway itself (no CORS, one origin).
 */
export const GET: RequestHandler = ({ url, request, getClientAddress }) =>
  forwardToGateway(
    { url, request, clientAddress: getClientAddress() },
    { url: GATEWAY_URL, apiKey: GATEWAY_API_KEY },
  );
