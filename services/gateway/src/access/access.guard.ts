import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AppConfig } from '@retail/common';
import { APP_CONFIG } from '@retail/common/nest';
import { ACCESS, type Access } from './access.js';
import { ApiKeys } from './api-keys.js';
import { RateLimits } from './rate-limits.js';

const BEARER = /^Bearer +([^\s]+) *$/i;
const REALM = 'Bearer realm="retail API"';

/** What a request's Authorization header holds. */
type Credentials = { kind: 'none' } | { kind: 'key'; id: string } | { kind: 'wrong'; malformed: boolean };

/**
 * Every API request passes here (a global guard): who may call the endpoint (see Access), and the rate limit
 * it counts against.
 *
 * The client a request is counted as: the address a trusted proxy names in X-Forwarded-For (TRUSTED_PROXIES:
 * the page's server forwards each shopper's address, so the shop is not one client); otherwise its API key
 * when it sends a valid one, else its own address. Requests with a missing or wrong key are counted too (by
 * address), so guessing keys is rate-limited like everything else.
 *
 * Refusals: 429 past the limit (before anything else); 401 without `Authorization: Bearer <key>` where a key
 * is required, or with a malformed header; 403 with a key that is not one of API_KEYS (on any endpoint: a
 * client sending a wrong key is told so).
 */
@Injectable()
export class AccessGuard implements CanActivate {
  private readonly keys: ApiKeys;
  private readonly keysRequiredForReads: boolean;

  constructor(
    private readonly reflector: Reflector,
    private readonly limits: RateLimits,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.keys = new ApiKeys(config.api.keys);
    this.keysRequiredForReads = config.api.keysRequiredForReads;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const access = this.accessOf(context, request.method);
    const credentials = this.credentials(request.headers.authorization);

    const forwarded = request.ip !== request.socket.remoteAddress;
    const client =
      !forwarded && credentials.kind === 'key' ? `key:${credentials.id}` : `address:${request.ip}`;
    await this.limits.count(access === 'write' ? 'writes' : 'reads', client, reply);

    if (credentials.kind === 'wrong') {
      if (credentials.malformed) {
        void reply.header('www-authenticate', `${REALM}, error="invalid_request"`);
        throw new UnauthorizedException('the Authorization header must be `Bearer <API key>`');
      }
      throw new ForbiddenException('the API key is not valid');
    }
    const keyRequired = access === 'write' || (access === 'read' && this.keysRequiredForReads);
    if (keyRequired && credentials.kind === 'none') {
      void reply.header('www-authenticate', REALM);
      throw new UnauthorizedException(
        this.keys.configured
          ? 'this endpoint needs an API key: `Authorization: Bearer <API key>`'
          : 'this endpoint needs an API key, and this gateway has none configured (API_KEYS)',
      );
    }
    return true;
  }

  private accessOf(context: ExecutionContext, method: string): Access {
    const declared = this.reflector.getAllAndOverride<Access | undefined>(ACCESS, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (declared) return declared;
    return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
  }

  private credentials(header: string | undefined): Credentials {
    if (header === undefined) return { kind: 'none' };
    const token = BEARER.exec(header)?.[1];
    if (token === undefined) return { kind: 'wrong', malformed: true };
    const id = this.keys.match(token);
    return id === undefined ? { kind: 'wrong', malformed: false } : { kind: 'key', id };
  }
}
