import { hash } from 'node:crypto';
import { applyDecorators } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiHeader, ApiResponse } from '@nestjs/swagger';
import type { FastifyInstance } from 'fastify';
import fresh from 'fresh';

/** How every revalidated answer may be kept: by the client only, and never used without asking again. */
export const REVALIDATE = 'private, no-cache';

/** The response headers a revalidated answer documents. */
export const revalidationHeaders = {
  ETag: {
    description: "the answer's version: send it back in `If-None-Match` to get a 304 while it is current",
    schema: { type: 'string' },
  },
  'Cache-Control': {
    description: `\`${REVALIDATE}\`: a cache must ask again (with If-None-Match) before it reuses the answer`,
    schema: { type: 'string' },
  },
} as const;

interface RevalidationConfig {
  revalidate?: boolean;
}

/**
 * An answer that clients revalidate: its 200 carries a strong ETag (a digest of the body, so it changes
 * whenever the answer does: a customer who just bought gets the new list) and `Cache-Control: private,
 * no-cache`; a request whose If-None-Match holds the current ETag gets a 304 without a body.
 */
export function Revalidated(): MethodDecorator {
  return applyDecorators(
    RouteConfig({ revalidate: true } satisfies RevalidationConfig),
    ApiHeader({
      name: 'If-None-Match',
      required: false,
      description: 'the ETag of the answer the client holds: 304 while it is still the current one',
    }),
    ApiResponse({
      status: 304,
      description: 'not modified: the answer is still the one whose ETag was sent in If-None-Match',
      headers: revalidationHeaders,
    }),
  );
}

/**
 * The hook behind Revalidated(): on the 200s of the routes marked, the ETag and Cache-Control, and the 304
 * when the request's If-None-Match matches (compared as HTTP says, by `fresh`: lists, weak comparison, `*`).
 */
export function addRevalidation(fastify: FastifyInstance): void {
  fastify.addHook('onSend', (request, reply, payload, done) => {
    const config = request.routeOptions.config as RevalidationConfig;
    if (!config.revalidate || reply.statusCode !== 200 || typeof payload !== 'string') {
      done(null, payload);
      return;
    }
    const etag = `"${hash('sha1', payload, 'base64url')}"`;
    void reply.header('etag', etag).header('cache-control', REVALIDATE);
    // Only If-None-Match decides (RFC 9110 13.1.2): a request's `Cache-Control: no-cache` speaks to caches,
    // and fetch() adds it to every request that carries If-None-Match itself.
    const ifNoneMatch = request.headers['if-none-match'];
    if (ifNoneMatch !== undefined && fresh({ 'if-none-match': ifNoneMatch }, { etag })) {
      void reply.code(304);
      done(null, '');
      return;
    }
    done(null, payload);
  });
}
