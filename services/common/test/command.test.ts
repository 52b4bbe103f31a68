import { describe, expect, it } from '@jest/globals';
import { runCli } from '@retail/testing';

/** Every command-line entry point runs through runCommand: the same help, usage errors and exit codes. */
describe('the command-line entry points', () => {
  it.each([
    'services/ingestion/dist/main.js',
    'services/ingestion/dist/export-seed.cli.js',
    'services/ingestion/dist/import-seed.cli.js',
    'services/embedder/dist/embed.cli.js',
  ])('%s: --help prints the usage, an unknown option is bad input (2) with the usage', async (script) => {
    const help = await runCli(script, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run /);
    const unknown = await runCli(script, ['--no-such-option']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown option '--no-such-option'[\s\S]*Usage: npm run /);
  });

  it('names a missing required option, with the usage, as bad input', async () => {
    const missing = await runCli('services/ingestion/dist/export-seed.cli.js', []);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^export:seed: --out DIR is required\n\nUsage: npm run export:seed/);
  });
});
