import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { SHARED_DATA_FILE } from '@retail/common';
import { runCli } from '@retail/testing';

const EVAL = 'services/recommendation/dist/eval/eval.cli.js';
let dir: string;
let file: string;

/** The first week of the real file (Dec 1-7, 2010), so that the two trainings take seconds. */
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'retail-eval-'));
  file = path.join(dir, 'first-week.csv');
  const kept: string[] = [];
  for await (const line of createInterface({
    input: createReadStream(SHARED_DATA_FILE).pipe(createGunzip()),
  })) {
    if (kept.length === 0 || /,2010-12-0[1-7] /.test(line)) kept.push(line);
  }
  await writeFile(file, `${kept.join('\n')}\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('npm run eval', () => {
  it('evaluates every model from a file, prints the table and writes the JSON', async () => {
    const json = path.join(dir, 'eval.json');
    const run = await runCli(EVAL, ['--file', file, '--cut', '2010-12-05', '--k', '5', '--json', json]);
    expect(run.stderr).toMatch(/validation split: train before 2010-12-0\d, validate on/);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/\| model\s+\|\s+HR@5 \| NDCG@5 \| recall@5 \| coverage \|/);
    const written = JSON.parse(await readFile(json, 'utf8'));
    expect(written).toMatchObject({ cut: '2010-12-05', k: 5 });
    expect(written.users).toBeGreaterThan(20);
    expect(written.models.map((m: { model: string }) => m.model)).toEqual([
      'best-sellers',
      'description (local-hashed-ngrams-v1)',
      'copurchase',
      'hybrid',
    ]);
    for (const m of written.models) {
      for (const key of ['hr', 'ndcg', 'recall', 'coverage']) {
        expect(m[key]).toBeGreaterThanOrEqual(0);
        expect(m[key]).toBeLessThanOrEqual(1);
      }
    }
    expect(written.models[3].params).toMatchObject({ lambda: 250 });
  });

  it('stops with exit code 2 and a clear message on bad input', async () => {
    const badCut = await runCli(EVAL, ['--file', file, '--cut', '5 December']);
    expect(badCut.code).toBe(2);
    expect(badCut.stderr).toMatch(/--cut must be a date like 2011-10-01/);
    const outside = await runCli(EVAL, ['--file', file, '--cut', '2012-01-01']);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(/the cut 2012-01-01 is outside the data \(2010-12-01 to 2010-12-07\)/);
    const missing = await runCli(EVAL, ['--file', path.join(dir, 'nothing.csv')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/file not found/);
    const badK = await runCli(EVAL, ['--file', file, '--k', '0']);
    expect(badK.code).toBe(2);
    expect(badK.stderr).toMatch(/--k must be an integer from 1 to 100/);
  });
});
