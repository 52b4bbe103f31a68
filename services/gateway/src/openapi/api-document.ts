import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { REPO_ROOT, type AppConfig } from '@retail/common';
import { ACCESS_EXTENSION, API_KEY_SCHEME } from '../access/access.js';

/** The API's version: the repository's (semver; see docs/api.md for what a change of each part means). */
export const API_VERSION = (
  JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

type Json = Record<string, unknown>;

/** What a Standard JSON Schema (zod 4's `~standard`) offers to convert itself. */
interface StandardJsonSchema {
  '~standard': {
    jsonSchema?: Partial<
      Record<'input' | 'output', (options: { target: string; libraryOptions?: Json }) => Json>
    >;
  };
}

/**
 * Converts the zod schemas for the document as @nestjs/swagger would (OpenAPI 3.0 through Standard JSON
 * Schema), without the ±2^53 bounds zod gives every integer: they say nothing the type does not.
 */
function convertSchema(schema: unknown, { schemaType }: { schemaType: 'input' | 'output' }) {
  const convert = (schema as Partial<StandardJsonSchema>)['~standard']?.jsonSchema?.[schemaType];
  if (!convert) return undefined;
  const {
    definitions,
    $defs,
    $schema: _dialect,
    ...converted
  } = convert({
    target: 'openapi-3.0',
    libraryOptions: {
      override: ({ jsonSchema }: { jsonSchema: Json }) => {
        if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
        if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
      },
    },
  });
  return { schema: converted, components: (definitions ?? $defs ?? {}) as Json };
}

const ERROR_SCHEMA = { $ref: '#/components/schemas/Error' };
const integerHeader = (description: string) => ({ description, schema: { type: 'integer' } });
const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': integerHeader('requests a client may make in the window'),
  'RateLimit-Remaining': integerHeader('requests left in the window'),
  'RateLimit-Reset': integerHeader('seconds until the window ends'),
  'RateLimit-Policy': {
    description: 'the limit and its window in seconds, e.g. `6000;w=60`',
    schema: { type: 'string' },
  },
};

/**
 * The gateway's OpenAPI document: generated from the controllers and the zod schemas of @retail/contracts,
 * then given the API's access policy (see applyAccessPolicy). Needs the application's modules, not a
 * running server or its connections.
 */
export function createApiDocument(app: INestApplication, config: AppConfig): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Retail recommender API')
      .setDescription(
        'Users with purchase history, their purchases, and product recommendations from embeddings of ' +
          'product descriptions, with one-sentence explanations. JSON uses snake_case; errors are ' +
          '`{statusCode, error, message}`. Reads are public; writes need an API key (`Authorization: ' +
          'Bearer <key>`). Every client is rate-limited (`RateLimit-*` headers, 429 with `Retry-After`). ' +
          'Compatibility: within a major version, changes only add (fields, endpoints, optional parameters).',
      )
      .setVersion(API_VERSION)
      .setLicense('MIT', 'https://opensource.org/licenses/MIT')
      .addServer('/', 'the gateway that serves this document')
      .addTag('users', 'Customers with purchase history, what they bought, what to recommend to them and why')
      .addTag('health', 'Liveness and readiness, for orchestrators and load balancers')
      .addBearerAuth(
        {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'API key',
          description: "one of the gateway's API keys (API_KEYS), as `Authorization: Bearer <key>`",
        },
        API_KEY_SCHEME,
      )
      .build(),
    { standardSchemaConverter: convertSchema },
  );
  applyAccessPolicy(document, config);
  return document;
}

/**
 * Writes who may call each operation into the document, as the access guard enforces it: `security: []` on
 * the public and read operations (the API key on the read ones with API_KEYS_REQUIRED_FOR_READS), the API key
 * on the write ones (WriteEndpoint(), and every method but GET and HEAD); on every operation the 401 and 403
 * (a key that is sent must be right), the rate-limit headers and the 429.
 */
function applyAccessPolicy(document: OpenAPIObject, config: AppConfig): void {
  if (!document.components?.schemas?.Error) throw new Error('the document has no Error schema');
  const keyRequirement = [{ [API_KEY_SCHEME]: [] }];
  for (const item of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const) {
      const operation = item[method] as (Json & { responses: Json; security?: unknown[] }) | undefined;
      if (!operation) continue;
      const isPublic = operation[ACCESS_EXTENSION] === 'public';
      delete operation[ACCESS_EXTENSION];
      // As the guard decides: WriteEndpoint(), or any method but GET and HEAD.
      const isWrite =
        !isPublic && ((operation.security?.length ?? 0) > 0 || (method !== 'get' && method !== 'head'));
      operation.security = isWrite || (!isPublic && config.api.keysRequiredForReads) ? keyRequirement : [];

      // A key that is sent must be right, wherever it is sent.
      const keyed = operation.security.length > 0;
      const responses = operation.responses as Record<string, Json>;
      responses['401'] ??= {
        description: keyed
          ? 'no API key (`Authorization: Bearer <key>`), or a malformed Authorization header'
          : 'a malformed Authorization header (`Bearer <key>` when one is sent)',
        content: { 'application/json': { schema: ERROR_SCHEMA } },
      };
      responses['403'] ??= {
        description: "the API key sent is not one of the gateway's",
        content: { 'application/json': { schema: ERROR_SCHEMA } },
      };
      const perMinute = isWrite ? config.api.writesPerMinute : config.api.readsPerMinute;
      if (perMinute <= 0) continue;
      for (const [status, response] of Object.entries(responses)) {
        if (status.startsWith('2'))
          response.headers = { ...(response.headers as Json), ...RATE_LIMIT_HEADERS };
      }
      responses['429'] = {
        description: `past the rate limit (${perMinute} ${isWrite ? 'writes' : 'reads'} a minute per client)`,
        headers: {
          'Retry-After': integerHeader('seconds until the limit allows a request again'),
          ...RATE_LIMIT_HEADERS,
        },
        content: { 'application/json': { schema: ERROR_SCHEMA } },
      };
    }
  }
}
