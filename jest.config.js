/**
 * Jest runs in native ESM mode (the NestJS 12 packages are ESM only): `npm test` starts it with
 * --experimental-vm-modules. TypeScript is compiled by SWC; the workspace packages resolve to their
 * sources, so tests never run stale builds of a sibling package.
 * @type {import('jest').Config}
 */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2023',
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: {
    '^@retail/contracts$': '<rootDir>/services/contracts/src/index.ts',
    '^@retail/contracts/rules$': '<rootDir>/services/contracts/src/rules.ts',
    '^@retail/client$': '<rootDir>/services/client/src/index.ts',
    '^@retail/common$': '<rootDir>/services/common/src/index.ts',
    '^@retail/common/migrate$': '<rootDir>/services/common/src/db/migrate.ts',
    '^@retail/common/progress$': '<rootDir>/services/common/src/progress/progress-reporter.ts',
    '^@retail/common/embedding-providers$': '<rootDir>/services/common/src/embeddings/providers.ts',
    '^@retail/testing$': '<rootDir>/services/testing/src/index.ts',
    '^@retail/common/nest$': '<rootDir>/services/common/src/nest/index.ts',
    '^@retail/ingestion/clean-purchases$': '<rootDir>/services/ingestion/src/clean-purchases.ts',
    '^@retail/ingestion/cleaning$': '<rootDir>/services/ingestion/src/cleaning/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  roots: ['<rootDir>/services', '<rootDir>/web', '<rootDir>/infra'],
  testMatch: ['**/test/**/*.test.ts'],
  setupFiles: ['<rootDir>/services/testing/src/jest-env.ts'],
  globalSetup: '<rootDir>/test/jest-global-setup.js',
  // Suites run in parallel workers, each with a database, a Redis database and a queue prefix of its own
  // (services/testing/src/test-env.ts). Most of a suite's time is spent waiting on the processes it starts,
  // so four workers keep two cores busy.
  maxWorkers: 4,
  testTimeout: 120_000,
};
