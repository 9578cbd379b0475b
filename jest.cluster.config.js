/**
 * `npm run drills:cluster`: the drills that run against the cluster stack (Temporal server on
 * PostgreSQL, two APIs, two workers; see test/cluster/global-setup.ts). One at a time: they kill
 * processes the others share.
 */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/cluster/**/*.cluster.test.ts'],
  globalSetup: '<rootDir>/test/cluster/global-setup.ts',
  globalTeardown: '<rootDir>/test/cluster/global-teardown.ts',
  testTimeout: 600_000,
  maxWorkers: 1,
};
