/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  // Native suites share one LibTorch process state; npm test runs them in band.
  testTimeout: 300000,
  setupFilesAfterEnv: ['<rootDir>/test/helpers/gcSetup.ts'],
};
