import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DOCUMENT_FILE, TYPES_FILE, generate } from '../scripts/generate.ts';

/**
 * The committed OpenAPI document and the client's types are what the gateway publishes now: a change of an
 * endpoint or a schema fails here until `npm run generate:client` is run and its output committed.
 */
describe('the generated client', () => {
  it("is up to date with the gateway's document", async () => {
    const generated = await generate();
    for (const [file, text] of [
      [DOCUMENT_FILE, generated.document],
      [TYPES_FILE, generated.types],
    ] as const) {
      const name = path.basename(file);
      expect({ file: name, upToDate: readFileSync(file, 'utf8') === text }).toEqual({
        file: name,
        upToDate: true,
      });
    }
  });

  it('types the parameters as what they are (integers with bounds in the document, numbers in the types)', () => {
    const document = JSON.parse(readFileSync(DOCUMENT_FILE, 'utf8')) as {
      paths: Record<string, { get: { parameters: { name: string; schema: Record<string, unknown> }[] } }>;
    };
    const topN = document.paths['/api/users/{user_id}/recommendations']!.get.parameters.find(
      (p) => p.name === 'top_n',
    );
    expect(topN?.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 100, default: 12 });
    expect(readFileSync(TYPES_FILE, 'utf8')).toMatch(/top_n\?: number;/);
    expect(readFileSync(DOCUMENT_FILE, 'utf8')).not.toContain('9007199254740991');
  });
});
