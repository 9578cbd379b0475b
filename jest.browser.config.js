/** The console in a real Chromium: the same servers as `jest` (see test/setup/), plus Chromium's own check. */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  testMatch: ['<rootDir>/test/browser/**/*.browser.test.ts'],
  globalSetup: '<rootDir>/test/browser/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  testTimeout: 120_000,
  maxWorkers: 1,
};
