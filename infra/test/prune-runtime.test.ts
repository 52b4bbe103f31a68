import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * infra/docker/prune-runtime.mjs, which the Dockerfile runs on the production node_modules: it keeps what
 * the workspaces' dependencies reach (as Node resolves them), drops the build tools npm installs as peers,
 * and the files Node never loads. Checked here on a small lockfile; the real image is checked by
 * `npm run test:compose` (no build tool inside, every service starts).
 */

const SCRIPT = path.resolve(import.meta.dirname, '..', 'docker', 'prune-runtime.mjs');
let dir: string;

afterEach(() => rmSync(dir, { recursive: true, force: true }));

function project(packages: Record<string, Record<string, unknown>>, files: string[]): void {
  dir = mkdtempSync(path.join(tmpdir(), 'prune-runtime-'));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ workspaces: ['app'] }));
  writeFileSync(
    path.join(dir, 'package-lock.json'),
    JSON.stringify({ lockfileVersion: 3, packages: { '': { workspaces: ['app'] }, ...packages } }),
  );
  for (const [key, entry] of Object.entries(packages)) {
    if (entry.link) continue;
    mkdirSync(path.join(dir, key), { recursive: true });
    writeFileSync(path.join(dir, key, 'package.json'), '{}');
  }
  mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  symlinkSync('../app', path.join(dir, 'node_modules', 'app'));
  for (const file of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), 'x');
  }
}

const prune = (...args: string[]) =>
  spawnSync(process.execPath, [SCRIPT, ...args], { cwd: dir, encoding: 'utf8' });
const present = (...paths: string[]) => paths.filter((p) => existsSync(path.join(dir, p)));

describe('prune-runtime.mjs', () => {
  const lock = {
    app: { dependencies: { kit: '1', lib: '1' } },
    'node_modules/app': { link: true, resolved: 'app' },
    // A runtime package naming build tools as peers (as @sveltejs/kit names vite, @nestjs/swagger typescript).
    'node_modules/kit': {
      dependencies: { dep: '1' },
      optionalDependencies: { 'kit-native': '1' },
      peerDependencies: { vite: '1', typescript: '1' },
    },
    'node_modules/kit-native': { optional: true },
    'node_modules/dep': {},
    'node_modules/lib': { dependencies: { dep: '2' } },
    // lib's own copy, found first from lib (Node's resolution), inside a package that is kept.
    'node_modules/lib/node_modules/dep': {},
    'node_modules/vite': { dependencies: { rolldown: '1' } },
    'node_modules/rolldown': { optionalDependencies: { 'rolldown-binding': '1' } },
    'node_modules/rolldown-binding': { optional: true },
    'node_modules/rolldown/node_modules/inner': {},
    'node_modules/typescript': { devOptional: true },
  };
  const files = [
    'node_modules/kit/index.js',
    'node_modules/kit/index.cjs',
    'node_modules/kit/index.d.ts',
    'node_modules/kit/index.d.mts',
    'node_modules/kit/index.js.map',
    'node_modules/kit/README.md',
    'node_modules/kit/src/index.ts',
    'node_modules/kit/assets/logo.svg',
    'node_modules/lib/node_modules/dep/index.js',
  ];

  it('keeps what the workspaces reach, drops peer-only build tools and unloaded files', () => {
    project(lock, files);
    const result = prune();
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(
      'build-only packages removed: rolldown, rolldown-binding, typescript, vite',
    );
    expect(
      present(
        'node_modules/app/package.json',
        'node_modules/kit',
        'node_modules/kit-native',
        'node_modules/dep',
        'node_modules/lib',
        'node_modules/lib/node_modules/dep/index.js',
      ),
    ).toHaveLength(6);
    expect(
      present(
        'node_modules/vite',
        'node_modules/rolldown',
        'node_modules/rolldown-binding',
        'node_modules/typescript',
      ),
    ).toEqual([]);
    expect(present(...files)).toEqual([
      'node_modules/kit/index.js',
      'node_modules/kit/index.cjs',
      'node_modules/kit/assets/logo.svg',
      'node_modules/lib/node_modules/dep/index.js',
    ]);
  });

  it('changes nothing with --dry-run, and refuses a lockfile that misses a required dependency', () => {
    project(lock, files);
    const dry = prune('--dry-run');
    expect(dry.status).toBe(0);
    expect(dry.stdout).toMatch(/would remove: /);
    expect(present('node_modules/vite', ...files)).toHaveLength(files.length + 1);

    project(Object.fromEntries(Object.entries(lock).filter(([key]) => key !== 'node_modules/dep')), []);
    const broken = prune();
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toContain('node_modules/kit needs dep, which is not in the lockfile');
    expect(present('node_modules/vite')).toEqual(['node_modules/vite']); // nothing removed
  });
});
