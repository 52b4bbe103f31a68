#!/usr/bin/env node
// Runs in the Dockerfile's prod-deps stage, after `npm ci --omit=dev --ignore-scripts`, from the folder
// holding package-lock.json and node_modules: takes out of node_modules what no process of the image loads.
//
// 1. Packages that only build tools need. npm also installs the peer dependencies of production packages,
//    and some peers are build tools: @sveltejs/kit names vite (with rolldown, lightningcss, postcss) and
//    @sveltejs/vite-plugin-svelte, @nestjs/swagger and valibot name typescript. Kept: every package that
//    the workspaces' `dependencies` reach through `dependencies` and `optionalDependencies`, resolved as
//    Node resolves them (the nearest node_modules up the tree). A peer that a process needs at run time is
//    also a direct dependency of a workspace (the NestJS, Fastify and bull-board packages are), so it stays.
//    Workspaces that only the root's devDependencies name (services/testing) go too, folder and link.
// 2. Files Node never loads: source maps, TypeScript sources and declarations, Markdown, and exceljs's
//    browser bundles (its `browser` entry; Node loads `main`, lib/).
//
// `node prune-runtime.mjs` prints what it removed; `--dry-run` only prints.
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

const dryRun = process.argv.includes('--dry-run');
const { packages } = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const root = JSON.parse(readFileSync('package.json', 'utf8'));
// A workspace that only the root's devDependencies name (the test helpers, @retail/testing) is not part of
// the image: neither its folder (npm ci leaves its package.json there) nor its link in node_modules stays.
const workspaceName = (workspace) => packages[path.posix.normalize(workspace)]?.name;
const neededByAnother = (name) =>
  Object.entries(packages).some(
    ([key, entry]) =>
      key !== '' && !entry.link && (entry.dependencies?.[name] || entry.optionalDependencies?.[name]),
  );
const devOnly = (root.workspaces ?? []).filter((workspace) => {
  const name = workspaceName(workspace);
  return name !== undefined && root.devDependencies?.[name] !== undefined && !neededByAnother(name);
});
const workspaces = (root.workspaces ?? []).filter((workspace) => !devOnly.includes(workspace));

/** The lockfile key Node finds for `name` required from the package at `from` (a lockfile key). */
function resolve(from, name) {
  for (let dir = from; ; dir = path.posix.dirname(dir)) {
    const key = path.posix.join(dir === '.' ? '' : dir, 'node_modules', name);
    if (packages[key]) return key;
    if (dir === '' || dir === '.') return undefined;
  }
}

const kept = new Set();
// The workspaces and their links in node_modules (node_modules/@retail/* -> services/*, web).
const queue = [
  ...workspaces.map((workspace) => path.posix.normalize(workspace)),
  ...Object.keys(packages).filter((key) => packages[key].link && workspaces.includes(packages[key].resolved)),
];
while (queue.length > 0) {
  const key = queue.pop();
  if (kept.has(key)) continue;
  kept.add(key);
  const entry = packages[key];
  if (!entry) continue;
  if (entry.link) {
    queue.push(entry.resolved);
    continue;
  }
  for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
    const found = resolve(key, name);
    if (found) queue.push(found);
    else if (!entry.optionalDependencies?.[name])
      throw new Error(`${key} needs ${name}, which is not in the lockfile`);
  }
}

let bytes = 0;
const size = (target) => {
  const stat = statSync(target);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(target).reduce((sum, child) => sum + size(path.join(target, child)), 0);
};
const remove = (target) => {
  bytes += size(target);
  if (!dryRun) rmSync(target, { recursive: true, force: true });
};

/** node_modules/a/node_modules/b -> node_modules/a: the package whose folder holds this one. */
const holder = (key) => key.slice(0, Math.max(0, key.lastIndexOf('/node_modules/')));
const unused = Object.keys(packages)
  .filter((key) => key.startsWith('node_modules/') && !kept.has(key))
  .filter((key) => holder(key) === '' || kept.has(holder(key))) // not inside a package removed anyway
  .filter((key) => {
    try {
      return statSync(key).isDirectory();
    } catch {
      return false; // not installed (dev, optional or another platform's binary)
    }
  });
for (const key of unused) remove(key);
for (const workspace of devOnly) remove(path.posix.normalize(workspace));
console.log(
  `development-only workspaces ${dryRun ? 'to remove' : 'removed'}: ${devOnly.join(', ') || 'none'}`,
);
const names = unused.map((key) => key.slice('node_modules/'.length)).sort();
console.log(`build-only packages ${dryRun ? 'to remove' : 'removed'}: ${names.join(', ') || 'none'}`);

const packagesBytes = bytes;
const unloaded = /\.(map|[cm]?ts|md|markdown)$/i; // .d.ts, .d.mts and TypeScript sources included
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const target = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(target);
    else if (entry.isFile() && unloaded.test(entry.name)) remove(target);
  }
};
walk('node_modules');
try {
  if (statSync('node_modules/exceljs/dist').isDirectory()) remove('node_modules/exceljs/dist');
} catch {
  // not installed
}
const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;
console.log(
  `${dryRun ? 'would remove' : 'removed'}: ${mb(packagesBytes)} of build-only packages, ${mb(bytes - packagesBytes)} of files never loaded`,
);
