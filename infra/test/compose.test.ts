import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type RequestListener } from 'node:http';
import { builtinModules } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Ajv, type AnySchemaObject } from 'ajv';
import addFormats from 'ajv-formats';
import ts from 'typescript';
import { parse } from 'yaml';
import { loadConfig } from '@retail/common';

/**
 * The container demo, checked without a Docker engine: docker-compose.yml against the Compose
 * Specification's JSON schema, its commands against infra/commands.json (what `npm start` runs), its start
 * order and health checks, .env.example against the configuration schema, and the Dockerfile's Node
 * version, user and production-only dependencies.
 */

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

type Env = Record<string, string>;
type Doc = Record<string, any>;

interface Step {
  name: string;
  kind: 'once' | 'service';
  command: string[];
  env?: Env;
  health?: { port: string; path: string };
}

const COMPOSE_TEXT = read('docker-compose.yml');
/** docker-compose.yml as YAML gives it (anchors and `<<` merges resolved), before interpolation. */
const RAW: Doc = parse(COMPOSE_TEXT, { merge: true });
const STEPS: Step[] = (JSON.parse(read('infra/commands.json')) as { steps: Step[] }).steps;
const ENV_EXAMPLE = parseEnvFile(read('.env.example'));

// ------------------------------------------------------------------------------------ interpolation

/** Docker Compose's interpolation of one string: $$, $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, :?, ?, :+, +. */
function interpolate(text: string, env: Env, used: Set<string>, bare: Set<string>): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (char !== '$') {
      out += char;
      i += 1;
      continue;
    }
    if (text[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (text[i + 1] === '{') {
      let depth = 1;
      let j = i + 2;
      while (j < text.length && depth > 0) {
        if (text[j] === '{') depth += 1;
        else if (text[j] === '}') depth -= 1;
        j += 1;
      }
      if (depth !== 0) throw new Error(`unclosed \${ in ${text}`);
      const body = text.slice(i + 2, j - 1);
      const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
      if (!match) throw new Error(`invalid interpolation \${${body}} in ${text}`);
      const [, name, operator, argument = ''] = match as unknown as [
        string,
        string,
        string | undefined,
        string,
      ];
      used.add(name);
      const value = env[name];
      const isSet = value !== undefined;
      const nonEmpty = isSet && value !== '';
      const nested = () => interpolate(argument, env, used, bare);
      switch (operator) {
        case undefined:
          bare.add(name);
          out += value ?? '';
          break;
        case ':-':
          out += nonEmpty ? value : nested();
          break;
        case '-':
          out += isSet ? value : nested();
          break;
        case ':?':
        case '?':
          if (operator === ':?' ? !nonEmpty : !isSet) throw new Error(`${name} is required: ${argument}`);
          out += value;
          break;
        case ':+':
          out += nonEmpty ? nested() : '';
          break;
        case '+':
          out += isSet ? nested() : '';
          break;
      }
      i = j;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0];
    if (name) {
      used.add(name);
      bare.add(name);
      out += env[name] ?? '';
      i += 1 + name.length;
      continue;
    }
    out += '$';
    i += 1;
  }
  return out;
}

/** The compose file as Docker Compose sees it with this environment (.env plus the shell's). */
function interpolated(env: Env = {}): { doc: Doc; used: Set<string>; bare: Set<string> } {
  const used = new Set<string>();
  const bare = new Set<string>();
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') return interpolate(value, env, used, bare);
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, walk(item)]));
    }
    return value;
  };
  return { doc: walk(RAW) as Doc, used, bare };
}

function parseEnvFile(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const [index, line] of text.split('\n').entries()) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) throw new Error(`.env.example line ${index + 1} is not NAME=value: ${line}`);
    if (entries.has(match[1]!)) throw new Error(`.env.example sets ${match[1]} twice`);
    entries.set(match[1]!, match[2]!);
  }
  return entries;
}

/** The variables the configuration schema reads: the keys of envSchema in config.ts. */
function configVariables(): string[] {
  const source = read('services/common/src/config/config.ts');
  const start = source.indexOf('const envSchema = z.object({');
  const end = source.indexOf('\n});', start);
  expect(start).toBeGreaterThan(-1);
  const keys = [...source.slice(start, end).matchAll(/^ {2}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!);
  expect(keys.length).toBeGreaterThan(20);
  return keys;
}

const services = (doc: Doc) => doc.services as Record<string, Doc>;
/** The containers of the app image (the one built from infra/docker/Dockerfile). */
const appServices = (doc: Doc) =>
  Object.fromEntries(
    Object.entries(services(doc)).filter(([, service]) => service.image === RAW['x-app'].image),
  );
const environmentOf = (service: Doc): Env =>
  Object.fromEntries(
    Object.entries((service.environment ?? {}) as Record<string, unknown>).map(([key, value]) => [
      key,
      value === null || value === undefined ? '' : String(value as string | number | boolean),
    ]),
  );
const dependencies = (service: Doc) =>
  (service.depends_on ?? {}) as Record<string, { condition: string; required?: boolean }>;

function transitiveDependencies(doc: Doc, name: string, seen = new Set<string>()): Set<string> {
  for (const dependency of Object.keys(dependencies(services(doc)[name]!))) {
    if (seen.has(dependency)) continue;
    seen.add(dependency);
    transitiveDependencies(doc, dependency, seen);
  }
  return seen;
}

// ------------------------------------------------------------------------------------ compose file

describe('docker-compose.yml', () => {
  const schema = JSON.parse(read('infra/test/compose-spec/compose-spec.json')) as AnySchemaObject;
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  addFormats.default(ajv);
  // The schema names its draft as https://json-schema.org/draft-07/schema: ajv knows it as http://...#.
  const draft07 = ajv.getSchema('http://json-schema.org/draft-07/schema')!.schema as AnySchemaObject;
  ajv.addMetaSchema({ ...draft07, $id: schema.$schema as string });
  const validate = ajv.compile(schema);
  const errors = () => ajv.errorsText(validate.errors, { separator: '\n', dataVar: 'compose' });

  it('is valid against the Compose Specification, as written and after interpolation', () => {
    expect(schema.title).toBe('Compose Specification');
    const valid = validate(RAW);
    expect(valid ? '' : errors()).toBe('');
    for (const env of [{}, Object.fromEntries(ENV_EXAMPLE), { DATA_FILE: './data/online_retail.csv.gz' }]) {
      const ok = validate(interpolated(env).doc);
      expect(ok ? '' : errors()).toBe('');
    }
  });

  it('rejects what the Compose Specification rejects (the validator is live)', () => {
    expect(
      validate({ services: { web: { image: 'x', depends_on: { db: { condition: 'when_ready' } } } } }),
    ).toBe(false);
    expect(validate({ services: { web: { image: 'x', helthcheck: {} } } })).toBe(false);
    expect(validate({ services: { web: { image: 'x' } }, volumes: { 'bad name!': {} } })).toBe(false);
  });

  it('needs no .env: every variable it reads may be unset, and .env.example lists it', () => {
    const { used, bare } = interpolated({});
    expect([...bare]).toEqual([]); // a bare ${VAR} would warn "not set" on every `docker compose up`
    expect([...used].filter((name) => !ENV_EXAMPLE.has(name))).toEqual([]);
    expect(COMPOSE_TEXT).not.toMatch(/\$\{[A-Z_]+:?\?/); // no required variable
  });

  it('reads its commands from a well-formed infra/commands.json', () => {
    const shape = new Ajv({ allErrors: true, strictTuples: false }).compile({
      type: 'object',
      required: ['steps'],
      properties: {
        steps: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'kind', 'command'],
            properties: {
              name: { type: 'string', pattern: '^[a-z][a-z0-9-]*$' },
              kind: { enum: ['once', 'service'] },
              command: {
                type: 'array',
                items: [
                  { const: 'node' },
                  { type: 'string', pattern: '^(services/[a-z-]+/dist|web/build)/' },
                ],
                additionalItems: { type: 'string' },
                minItems: 2,
              },
              env: { type: 'object', additionalProperties: { type: 'string' } },
              health: {
                type: 'object',
                additionalProperties: false,
                required: ['port', 'path'],
                properties: {
                  port: { type: 'string', pattern: '^[A-Z_]+$' },
                  path: { type: 'string', pattern: '^/' },
                },
              },
            },
          },
        },
      },
    });
    const commands: unknown = JSON.parse(read('infra/commands.json'));
    expect(shape(commands) ? '' : JSON.stringify(shape.errors)).toBe('');
    expect(new Set(STEPS.map((step) => step.name)).size).toBe(STEPS.length);
    for (const step of STEPS.filter((s) => s.kind === 'service')) expect(step.health).toBeDefined();
    // Each entry point is built from a source file of the repository.
    for (const step of STEPS) {
      const script = step.command[1]!;
      const source = script.startsWith('web/build/')
        ? 'web/package.json'
        : script.replace('/dist/', '/src/').replace(/\.js$/, '.ts');
      expect({ script, source: existsSync(path.join(ROOT, source)) }).toEqual({ script, source: true });
    }
  });

  it('runs in each app container one of the commands of infra/commands.json, the ones `npm start` runs', () => {
    const apps = appServices(RAW);
    expect(Object.keys(apps).sort()).toEqual(STEPS.map((step) => step.name).sort());
    for (const step of STEPS) {
      const service = apps[step.name]!;
      expect({ name: step.name, command: service.command }).toEqual({
        name: step.name,
        command: step.command,
      });
      expect(service.entrypoint).toBeUndefined();
      expect(environmentOf(service)).toMatchObject(step.env ?? {});
    }
    // One image for all of them, built once: by the first step, the only service with a build section.
    expect(RAW['x-app'].image).toMatch(/^[a-z0-9./-]+:[a-z0-9.-]+$/);
    expect(RAW['x-app'].build).toBeUndefined();
    const builders = Object.entries(services(RAW)).filter(([, service]) => service.build !== undefined);
    expect(
      builders.map(([name, service]) => [name, service.image, service.build, service.pull_policy]),
    ).toEqual([
      [STEPS[0]!.name, RAW['x-app'].image, { context: '.', dockerfile: 'infra/docker/Dockerfile' }, 'build'],
    ]);
    // The others never ask a registry for it (Compose would try, and print an error per service).
    for (const [name, service] of Object.entries(apps).filter(([, s]) => s.build === undefined)) {
      expect({ name, pull_policy: service.pull_policy }).toEqual({ name, pull_policy: 'never' });
    }
  });

  it('starts in order: one-shot steps complete, long-running services are healthy, before what needs them', () => {
    const doc = interpolated({}).doc;
    const all = services(doc);
    const kinds = new Map(STEPS.map((step) => [step.name, step.kind]));
    for (const [name, service] of Object.entries(all)) {
      const once = kinds.get(name) === 'once';
      expect({ name, restart: service.restart }).toEqual({ name, restart: once ? 'no' : 'unless-stopped' });
      if (!once)
        expect({ name, healthcheck: Boolean(service.healthcheck?.test) }).toEqual({
          name,
          healthcheck: true,
        });
      for (const [dependency, { condition }] of Object.entries(dependencies(service))) {
        expect(all[dependency]).toBeDefined();
        const expected =
          kinds.get(dependency) === 'once' ? 'service_completed_successfully' : 'service_healthy';
        expect({ name, dependency, condition }).toEqual({ name, dependency, condition: expected });
      }
    }
    for (const [index, step] of STEPS.entries()) {
      const before = transitiveDependencies(doc, step.name);
      expect(before.has(step.name)).toBe(false); // no cycle
      if (index > 0) expect([...before]).toEqual(expect.arrayContaining(['postgres', STEPS[0]!.name]));
      // Each one-shot step comes after every one-shot step listed before it; one that waits for the
      // ingestion's data itself (--after-ingestion) may start beside the ingestion.
      if (step.kind === 'once') {
        const waitsForData = step.command.includes('--after-ingestion');
        const earlier = STEPS.slice(0, index).filter(
          (s) => s.kind === 'once' && !(waitsForData && s.name === 'ingest'),
        );
        expect([...before]).toEqual(expect.arrayContaining(earlier.map((s) => s.name)));
      }
    }
    // When the page is up, everything is.
    const last = STEPS.at(-1)!;
    expect([...transitiveDependencies(doc, last.name)].sort()).toEqual(
      Object.keys(all)
        .filter((name) => name !== last.name)
        .sort(),
    );
  });

  it('checks each service where infra/commands.json says it is ready', () => {
    for (const env of [{}, { GATEWAY_PORT: '18080', WEB_PORT: '13000' }] as Env[]) {
      const apps = appServices(interpolated(env).doc);
      for (const step of STEPS.filter((s) => s.health)) {
        const service = apps[step.name]!;
        const port = environmentOf(service)[step.health!.port];
        expect({ step: step.name, port }).toEqual({ step: step.name, port: expect.stringMatching(/^\d+$/) });
        expect(service.healthcheck.test).toEqual([
          'CMD',
          'bash',
          'infra/docker/healthcheck.sh',
          `http://127.0.0.1:${port}${step.health!.path}`,
        ]);
      }
    }
  });

  it('checks liveness, not readiness: a dependency that is down does not make a container unhealthy', () => {
    const all = services(interpolated({}).doc);
    const tests = Object.values(all).map((service) => JSON.stringify(service.healthcheck?.test ?? ''));
    expect(tests.filter((test) => test.includes('/ready'))).toEqual([]);
    expect(all.gateway!.healthcheck.test.at(-1)).toBe('http://127.0.0.1:8080/api/health');
  });

  it('gives every app container a valid configuration, offline (local embeddings, template sentences) without keys', () => {
    for (const env of [{}, Object.fromEntries(ENV_EXAMPLE)]) {
      const apps = appServices(interpolated(env).doc);
      for (const [name, service] of Object.entries(apps)) {
        if (name === 'web') continue; // SvelteKit's server: PORT, HOST, ORIGIN, GATEWAY_URL
        const config = loadConfig(environmentOf(service));
        expect({
          name,
          env: config.nodeEnv,
          embedding: config.embedding.provider,
          llm: config.llm.provider,
        }).toEqual({
          name,
          env: 'production',
          embedding: 'local',
          llm: 'template',
        });
        expect(new URL(config.databaseUrl).host).toBe('postgres:5432');
        expect(new URL(config.redisUrl).host).toBe('redis:6379');
        expect(config.recommendation.host).toBe(name === 'recommendation' ? '0.0.0.0' : 'recommendation');
      }
    }
  });

  it('uses one vector space in every container once a key is set', () => {
    const apps = appServices(interpolated({ EMBEDDING_API_KEY: 'sk-test', LLM_API_KEY: 'sk-test' }).doc);
    const models = Object.entries(apps)
      .filter(([name]) => name !== 'web')
      .map(([, service]) => loadConfig(environmentOf(service)))
      .map((config) => `${config.embedding.provider} ${config.embedding.model} ${config.llm.provider}`);
    expect(new Set(models)).toEqual(new Set(['openai Qwen/Qwen3-Embedding-0.6B openai']));
  });

  it('passes every variable of the configuration to the app containers', () => {
    const passed = new Set(
      Object.values(appServices(RAW)).flatMap((service) => Object.keys(environmentOf(service))),
    );
    expect(configVariables().filter((name) => !passed.has(name))).toEqual([]);
  });

  it('publishes the page and the API on the ports of .env, and wires the page to the gateway', () => {
    const cases: [Env, string, string][] = [
      [{}, '3000', '8080'],
      [{ WEB_PORT: '13000', GATEWAY_PORT: '18080' }, '13000', '18080'],
    ];
    for (const [env, web, gateway] of cases) {
      const all = services(interpolated(env).doc);
      expect(all.web!.ports).toEqual([`${web}:${web}`]);
      expect(all.gateway!.ports).toEqual([`${gateway}:${gateway}`]);
      expect(environmentOf(all.web!)).toMatchObject({
        PORT: web,
        HOST: '0.0.0.0',
        GATEWAY_URL: `http://gateway:${gateway}`,
        ORIGIN: `http://localhost:${web}`,
      });
      expect(environmentOf(all.gateway!).GATEWAY_PORT).toBe(gateway);
      // Nothing else is reachable from the host.
      expect(
        Object.entries(all)
          .filter(([, service]) => service.ports)
          .map(([name]) => name),
      ).toEqual(['gateway', 'web']);
    }
  });

  it('keeps its state in named volumes', () => {
    const all = services(RAW);
    const volumes = Object.keys(RAW.volumes as Doc);
    const mounted = Object.values(all).flatMap((service) =>
      ((service.volumes ?? []) as (string | Doc)[]).map((volume) =>
        typeof volume === 'string'
          ? { type: 'volume', source: volume.split(':')[0], target: volume.split(':')[1] }
          : volume,
      ),
    );
    for (const volume of mounted.filter((v) => v.type === 'volume')) expect(volumes).toContain(volume.source);
    expect(mounted).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ source: 'postgres-data', target: '/var/lib/postgresql/data' }),
        expect.objectContaining({ source: 'redis-data', target: '/data' }),
        expect.objectContaining({ source: 'data-cache', target: environmentOf(all.ingest!).DATA_CACHE_DIR }),
      ]),
    );
    expect(all.postgres!.image).toMatch(/^pgvector\/pgvector:/);
  });

  it('ingests the file DATA_FILE names (mounted read-only), else downloads the UCI data once into a volume', () => {
    const mountOf = (doc: Doc) =>
      (services(doc).ingest!.volumes as Doc[]).find((volume) => volume.type === 'bind')!;

    const unset = interpolated({}).doc;
    expect(environmentOf(services(unset).ingest!).DATA_FILE).toBe(''); // the config's default: the UCI zip
    expect(existsSync(path.join(ROOT, mountOf(unset).source as string))).toBe(true);

    const set = interpolated({ DATA_FILE: '../shared/data/online-retail/online_retail.csv.gz' }).doc;
    const mount = mountOf(set);
    expect(mount).toMatchObject({
      source: '../shared/data/online-retail/online_retail.csv.gz',
      read_only: true,
    });
    expect(environmentOf(services(set).ingest!).DATA_FILE).toBe(mount.target);
  });
});

// ------------------------------------------------------------------------------------ .env.example

describe('.env.example', () => {
  it('lists every variable the configuration reads', () => {
    expect(configVariables().filter((name) => !ENV_EXAMPLE.has(name))).toEqual([]);
    expect(ENV_EXAMPLE.has('DATA_CACHE_DIR')).toBe(true);
  });

  it('works as it is: no key, so the offline providers', () => {
    for (const name of ['EMBEDDING_API_KEY', 'LLM_API_KEY', 'EMBEDDING_PROVIDER', 'LLM_PROVIDER']) {
      expect({ name, value: ENV_EXAMPLE.get(name) }).toEqual({ name, value: '' });
    }
    const config = loadConfig(Object.fromEntries(ENV_EXAMPLE));
    expect([config.embedding.provider, config.llm.provider]).toEqual(['local', 'template']);
  });

  it('explains every variable', () => {
    const lines = read('.env.example').split('\n');
    const undocumented = lines
      .map((line, index) => ({ line, comment: lines.slice(0, index).reverse() }))
      .filter(({ line }) => /^[A-Z]/.test(line))
      .filter(({ comment }) => !comment.find((l) => !/^[A-Z]/.test(l))?.startsWith('#'))
      .map(({ line }) => line);
    expect(undocumented).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------ image

interface Stage {
  name: string | undefined;
  image: string;
  instructions: string[];
}

function dockerStages(text: string): Stage[] {
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction);
    if (from) stages.push({ image: from[1]!, name: from[2], instructions: [] });
    else stages.at(-1)!.instructions.push(instruction);
  }
  return stages;
}

describe('infra/docker/Dockerfile', () => {
  const stages = dockerStages(read('infra/docker/Dockerfile'));
  const byName = new Map(stages.map((stage) => [stage.name, stage]));
  /** A stage's instructions with those of the stages it starts from. */
  const lineage = (stage: Stage): string[] => [
    ...(byName.has(stage.image) ? lineage(byName.get(stage.image)!) : []),
    ...stage.instructions,
  ];

  it('builds on the Node version of .nvmrc, in several stages', () => {
    const nvmrc = read('.nvmrc').trim().replace(/^v/, '');
    expect(nvmrc).toMatch(/^\d+\.\d+\.\d+$/);
    expect(stages.length).toBeGreaterThan(2);
    const bases = stages.filter((stage) => !byName.has(stage.image)).map((stage) => stage.image);
    expect(bases.length).toBeGreaterThan(0);
    for (const image of bases) expect(image).toMatch(new RegExp(`^node:${nvmrc.replace(/\./g, '\\.')}-`));
  });

  it('needs no image from a registry but its base: no `# syntax=` frontend to fetch', () => {
    // BuildKit would pull the frontend image named there on every build; the built-in one reads this file.
    expect(read('infra/docker/Dockerfile')).not.toMatch(/^#\s*syntax\s*=/im);
  });

  it('runs the final stage as an unprivileged user', () => {
    const users = lineage(stages.at(-1)!).filter((line) => /^USER\s/i.test(line));
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)!.split(/\s+/)[1]).not.toMatch(/^(root|0)(:|$)/);
  });

  it('ships production dependencies only, with the built files and the migrations', () => {
    const final = stages.at(-1)!;
    expect(final.instructions.some((line) => /\bnpm\s+(ci|install|i)\b/.test(line))).toBe(false);
    const copies = final.instructions
      .map((line) => /^COPY\s+(?:--\S+\s+)*--from=(\S+)\s+(\S+)\s+\S+$/i.exec(line))
      .filter((match) => match !== null)
      .map((match) => ({ stage: byName.get(match[1])!, source: match[2]! }));
    // node_modules come from a stage whose every install omits the devDependencies ...
    const withModules = copies.filter(
      (copy) => copy.source === '/app/' || copy.source.includes('node_modules'),
    );
    expect(withModules).toHaveLength(1);
    const installs = lineage(withModules[0]!.stage).filter((line) => /\bnpm\s+(ci|install|i)\b/.test(line));
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) expect(install).toMatch(/npm ci --omit=dev/);
    // ... and the rest is the files gathered from the build: dist folders, the page, the migrations.
    for (const copy of copies.filter((c) => !withModules.includes(c))) {
      const gathering = copy.stage.instructions.find((line) =>
        line.includes(`mkdir -p ${copy.source.replace(/\/$/, '')}`),
      );
      expect(gathering).toBeDefined();
      expect(gathering).not.toMatch(/node_modules/);
      for (const part of ['services/*/dist', 'web/build', 'migrations', 'infra/docker/healthcheck.sh']) {
        expect(gathering).toContain(part);
      }
    }
  });

  it('is built from a context without dependencies, build outputs, secrets or tests', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((line) => line.trim());
    for (const entry of ['**/node_modules', '**/dist', 'web/build', '.env', '.git', '**/test']) {
      expect(ignored).toContain(entry);
    }
  });
});

// ------------------------------------------------------------------------------------ what the commands load

type LockEntry = { dev?: boolean; devOptional?: boolean; link?: boolean; resolved?: string };

describe('the production image', () => {
  const lock = (JSON.parse(read('package-lock.json')) as { packages: Record<string, LockEntry> }).packages;
  const builtins = new Set(builtinModules);
  /** The modules a file imports (static, dynamic and require), comments aside: TypeScript's scanner. */
  const specifiers = (code: string) =>
    ts.preProcessFile(code, true, true).importedFiles.map((reference) => reference.fileName);

  /** Where Node finds package `name` from `file`: the lockfile key of the nearest node_modules/name. */
  function lockKey(file: string, name: string): string | undefined {
    let dir = path.relative(ROOT, path.dirname(file));
    for (;;) {
      const key = path.posix.join(dir.split(path.sep).join('/'), 'node_modules', name);
      if (lock[key]) return key;
      if (dir === '' || dir === '.') return undefined;
      dir = path.dirname(dir);
      if (dir === '.') dir = '';
    }
  }

  function exportTarget(dir: string, subpath: string): string {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      exports?: Record<string, string | Record<string, string>>;
      main?: string;
    };
    const entry = pkg.exports?.[subpath ? `./${subpath}` : '.'];
    if (typeof entry === 'string') return path.join(dir, entry);
    if (entry) return path.join(dir, entry.import ?? entry.default!);
    return path.join(dir, subpath || pkg.main || 'index.js');
  }

  /** Every file a command loads (following relative imports and workspace packages), and the packages it needs. */
  function load(entry: string) {
    const files = new Set<string>();
    const packages = new Map<string, string>();
    const queue = [path.join(ROOT, entry)];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (files.has(file)) continue;
      if (!existsSync(file))
        throw new Error(`${path.relative(ROOT, file)} is missing: run \`npm run build\` first`);
      files.add(file);
      for (const specifier of specifiers(readFileSync(file, 'utf8'))) {
        if (specifier.startsWith('node:') || builtins.has(specifier)) continue;
        if (specifier.startsWith('.')) {
          queue.push(path.resolve(path.dirname(file), specifier));
          continue;
        }
        const parts = specifier.split('/');
        const width = specifier.startsWith('@') ? 2 : 1;
        const name = parts.slice(0, width).join('/');
        const key = lockKey(file, name);
        if (!key) throw new Error(`${specifier}, imported by ${path.relative(ROOT, file)}, is not installed`);
        const found = lock[key]!;
        if (found.link)
          queue.push(exportTarget(path.join(ROOT, found.resolved!), parts.slice(width).join('/')));
        else packages.set(key, path.relative(ROOT, file));
      }
    }
    return { files, packages };
  }

  it('holds everything the commands load: production dependencies, never test or benchmark code', () => {
    for (const step of STEPS) {
      const { files, packages } = load(step.command[1]!);
      const dev = [...packages].filter(([key]) => lock[key]!.dev || lock[key]!.devOptional);
      expect({ step: step.name, dev }).toEqual({ step: step.name, dev: [] });
      const helpers = [...files].filter((file) =>
        /^(services[\\/]testing|bench)[\\/]/.test(path.relative(ROOT, file)),
      );
      expect({ step: step.name, helpers }).toEqual({ step: step.name, helpers: [] });
      expect(files.size).toBeGreaterThan(1);
    }
  });

  it('loads in each process only the heavy libraries it uses (the shared code is split by entry point)', () => {
    const heavy = ['openai', 'node-pg-migrate', 'cli-progress'];
    const uses = (step: string) => {
      const { packages } = load(STEPS.find((s) => s.name === step)!.command[1]!);
      return heavy.filter((name) => packages.has(`node_modules/${name}`));
    };
    expect(uses('gateway')).toEqual([]);
    expect(uses('web')).toEqual([]);
    expect(uses('explanation')).toEqual(['openai']); // the chat model
    expect(uses('embedder')).toEqual(['openai']); // the embedding model
    expect(uses('migrate')).toEqual(['node-pg-migrate']);
    expect(uses('ingest')).toEqual(['cli-progress']);
  });
});

// ------------------------------------------------------------------------------------ health check script

describe('infra/docker/healthcheck.sh', () => {
  const check = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn('bash', [path.join(ROOT, 'infra/docker/healthcheck.sh'), ...args], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
    });

  async function withServer(handler: RequestListener, run: (url: string) => Promise<void>): Promise<void> {
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }

  it('passes on 2xx, fails on anything else, on no answer and on a closed port', async () => {
    await withServer(
      (req, res) => {
        if (req.url === '/health') res.writeHead(200).end('ok');
        else if (req.url === '/slow')
          return; // never answers
        else res.writeHead(503).end('down');
      },
      async (url) => {
        expect(await check([`${url}/health`])).toEqual({ code: 0, stderr: '' });
        const down = await check([`${url}/ready`]);
        expect(down).toEqual({ code: 1, stderr: expect.stringContaining('answered HTTP/1.1 503') });
        expect((await check([`${url}/slow`, '0.3'])).code).toBe(1);
      },
    );
    expect((await check(['http://127.0.0.1:9/health'])).code).toBe(1);
    expect((await check([])).code).toBe(2);
  });
});
