import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Ajv, type ValidateFunction } from 'ajv';
import type { Database, RedisClient } from '@retail/common';
import {
  closeTestStores,
  eventually,
  openTestStores,
  startProcess,
  stop,
  type RunningProcess,
} from '@retail/testing';
import { loadCatalog, startStack, type TestStack } from './stack.js';

/**
 * The contract: every endpoint's real answers, statuses and bodies, against the OpenAPI document the gateway
 * publishes (generated from the schemas in @retail/contracts). An answer the document does not describe, or
 * describes otherwise, fails here.
 */
interface OpenApiDocument {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>
  >;
  components: { schemas: Record<string, unknown> };
}

let db: Database;
let redis: RedisClient;
let stack: TestStack;
let explanation: RunningProcess;
let doc: OpenApiDocument;
const ajv = new Ajv({ strict: false, allErrors: true });

/** The documented schema of `path`'s answer with `status`, refs pointing into the document. */
function responseSchema(path: string, status: number): ValidateFunction {
  const template = Object.keys(doc.paths).find((candidate) =>
    new RegExp(`^${candidate.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path.split('?')[0]!),
  );
  if (!template) throw new Error(`${path} is not in the OpenAPI document`);
  const response = doc.paths[template]!.get!.responses[String(status)];
  const schema = response?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`GET ${template} does not document a ${status} JSON answer`);
  const rewritten = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"openapi#/components/'));
  return ajv.compile(rewritten);
}

async function expectDocumented(path: string, status: number): Promise<unknown> {
  const answer = await stack.get(path);
  expect({ path, status: answer.status }).toEqual({ path, status });
  const validate = responseSchema(path, status);
  expect({ path, valid: validate(answer.body), errors: validate.errors ?? null }).toEqual({
    path,
    valid: true,
    errors: null,
  });
  return answer.body;
}

beforeAll(async () => {
  ({ db, redis } = await openTestStores());
  await loadCatalog('small.csv');
  stack = await startStack();
  explanation = startProcess('services/explanation/dist/main.js');
  await explanation.waitFor(/consuming/);
  doc = (await stack.get('/api/docs/openapi.json')).body as OpenApiDocument;
  ajv.addSchema({ $id: 'openapi', components: doc.components });
});

afterAll(async () => {
  await stop(explanation);
  await stack?.close();
  await closeTestStores({ db, redis });
});

describe('every answer matches the published OpenAPI document', () => {
  it.each([
    ['/api/users', 200],
    ['/api/users?query=178&limit=2&offset=0', 200],
    ['/api/users?limit=0', 400],
    ['/api/users/17850/purchases', 200],
    ['/api/users/99999/purchases', 404],
    ['/api/users/abc/purchases', 400],
    ['/api/users/17850/recommendations', 200],
    ['/api/users/17850/recommendations?top_n=2&explanations=now', 200],
    ['/api/users/17850/recommendations?top_n=0', 400],
    ['/api/users/99999/recommendations', 404],
    ['/api/users/17850/recommendations/explanations?product_ids=22632,21754', 200],
    ['/api/users/17850/recommendations/explanations?product_ids=22632,NOPE', 404],
    ['/api/users/17850/recommendations/explanations', 400],
    ['/api/users/99999/recommendations/explanations?product_ids=22632', 404],
    ['/api/health', 200],
    ['/api/health/ready', 200],
  ])('GET %s -> %i', async (path, status) => {
    await expectDocumented(path, status);
  });

  it('documents ready explanations too (text, source and status filled in)', async () => {
    const ids = (
      (await stack.get('/api/users/13047/recommendations?explanations=now')).body as {
        recommendations: { product_id: string }[];
      }
    ).recommendations.map((r) => r.product_id);
    const path = `/api/users/13047/recommendations/explanations?product_ids=${ids.join(',')}`;
    await eventually(async () => {
      const body = (await stack.get(path)).body as { explanations: { explanation_status: string }[] };
      return body.explanations.every((e) => e.explanation_status === 'ready');
    });
    await expectDocumented(path, 200);
    await expectDocumented('/api/users/13047/recommendations', 200);
  });

  it('fails an answer that leaves out a required field or changes a type', async () => {
    const body = (await stack.get('/api/users/17850/recommendations')).body as Record<string, unknown>;
    const validate = responseSchema('/api/users/17850/recommendations', 200);
    expect(validate(body)).toBe(true);
    const { basis: _basis, ...withoutBasis } = body;
    expect(validate(withoutBasis)).toBe(false);
    expect(validate({ ...body, user_id: 17850 })).toBe(false);
  });
});
