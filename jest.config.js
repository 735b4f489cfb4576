/**
 * One jest run for every workspace. Each part is a jest "project" so
 * `npm test` runs them all and `npx jest --selectProjects contracts` runs one.
 * TypeScript is stripped by esbuild (fast); `npm run typecheck` does the type check.
 */
const transformer = '<rootDir>/../common/src/testing/esbuildTransform.js';
const part = (name, extra = {}) => ({
  displayName: name,
  rootDir: `<rootDir>/${name}`,
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': transformer },
  testMatch: ['<rootDir>/**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
  ...extra,
});
module.exports = {
  rootDir: __dirname,
  testTimeout: 60_000,
  // Safety net: a leaked socket or timer must never hang CI after the results are in.
  forceExit: true,
  globalSetup: '<rootDir>/common/src/testing/globalSetup.js',
  globalTeardown: '<rootDir>/common/src/testing/globalTeardown.js',
  projects: ['common', 'contracts', 'sandbox', 'indexer', 'oracle', 'api', 'scripts']
    .filter((p) => require('fs').existsSync(`${__dirname}/${p}`))
    .map((p) => part(p)),
};
