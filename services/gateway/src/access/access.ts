import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension } from '@nestjs/swagger';

/**
 * Who may call an endpoint, and which rate limit counts it:
 * - `read`: anyone (a key only with API_KEYS_REQUIRED_FOR_READS), the read limit; every GET by default;
 * - `write`: a client with one of API_KEYS, the write limit; every other method by default;
 * - `public`: anyone, always (health checks), the read limit.
 */
export type Access = 'public' | 'read' | 'write';

export const ACCESS = 'retail:access';
/** The security scheme of the OpenAPI document: `Authorization: Bearer <one of API_KEYS>`. */
export const API_KEY_SCHEME = 'apiKey';
/** Marks the operations documented as `public` until the document's policy is applied (then removed). */
export const ACCESS_EXTENSION = 'x-retail-access';

/**
 * A write endpoint: it requires one of API_KEYS (401 without `Authorization: Bearer`, 403 with a wrong key)
 * and counts against the write limit of that key. The one decorator a write endpoint needs: the guard
 * enforces it, the OpenAPI document shows the security requirement and the 401/403/429 answers.
 */
export function WriteEndpoint(): MethodDecorator {
  return applyDecorators(SetMetadata(ACCESS, 'write'), ApiBearerAuth(API_KEY_SCHEME));
}

/** An endpoint anyone may call whatever the settings (health checks): still counted against the read limit. */
export function PublicEndpoint(): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(ACCESS, 'public'), ApiExtension(ACCESS_EXTENSION, 'public'));
}
