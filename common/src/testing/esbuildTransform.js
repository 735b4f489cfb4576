/**
 * Jest transformer: strips TypeScript with esbuild (already installed for tsx), emitting
 * CommonJS with inline source maps. Type checking is `npm run typecheck`'s job.
 * (We avoid @swc/core: its platform packages are not all on the registry we install from,
 * which breaks `npm ci`.)
 */
const { transformSync } = require('esbuild');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: filename.endsWith('.tsx') ? 'tsx' : 'ts',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'external',
      sourcefile: filename,
      supported: { 'dynamic-import': false },
    });
    return { code, map };
  },
  getCacheKey(source, filename) {
    return require('node:crypto').createHash('sha256').update(source).update(filename).update('esbuild-v1').digest('hex');
  },
};
