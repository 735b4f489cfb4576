/**
 * `npm run build`: compiles every service entry point to one JavaScript file with esbuild,
 * into `build/` at the same relative path (`oracle/src/main.ts` → `build/oracle/src/main.js`),
 * so the `__dirname`-relative files each service reads (migrations, GraphQL schema,
 * simulator certificates) sit where they do in the repository. Our workspaces
 * (`@descrow/*`) are compiled in; every other package stays a `require` of node_modules,
 * which the image installs with production dependencies only (Dockerfile).
 */
import { readFileSync, rmSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';

const ROOT = resolve(__dirname, '..');
export const OUT = resolve(ROOT, 'build');

/** The entry points the image runs (docker-compose.yml names them as build/… → /app/…). */
export const ENTRIES = [
  'oracle/src/main.ts',
  'api/src/main.ts',
  'sandbox/chain/start.ts',
  'sandbox/daraja/main.ts',
  'scripts/compose-indexer-manifest.ts',
];

/**
 * Bundling moves code: a module compiled into `entry`'s file must still find the files
 * next to its own source, and its `if (require.main === module)` block must not run.
 */
const asIfInPlace = (entry: string): Plugin => ({
  name: 'as-if-in-place',
  setup(b) {
    // A bare specifier that is not one of our workspaces: leave it to node_modules.
    b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@descrow/') ? undefined : { path: args.path, external: true }));
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      if (args.path.includes('/node_modules/') || args.path === resolve(ROOT, entry)) return undefined;
      const fromBundle = relative(dirname(resolve(ROOT, entry)), dirname(args.path)) || '.';
      const contents = readFileSync(args.path, 'utf8')
        .replace(/require\.main === module/g, 'false')
        .replace(/\b__dirname\b/g, `require('node:path').join(__dirname, ${JSON.stringify(fromBundle)})`);
      return { contents, loader: 'ts' };
    });
  },
});

/** Files the services read next to their code; the runtime image copies each (Dockerfile). */
export const RUNTIME_ASSETS = ['oracle/migrations', 'api/migrations', 'api/src/schema', 'sandbox/daraja/certs'];

export async function buildServices(out = OUT): Promise<void> {
  if (out === OUT) rmSync(OUT, { recursive: true, force: true });
  for (const entry of ENTRIES) {
    await build({
      absWorkingDir: ROOT,
      entryPoints: [entry],
      outdir: resolve(out, dirname(entry)),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: 'linked',
      logLevel: 'warning',
      plugins: [asIfInPlace(entry)],
    });
  }
}

if (require.main === module) {
  buildServices().then(
    () => console.log(`build: ${ENTRIES.length} services compiled into build/`),
    (err: Error) => {
      console.error(`build: ${err.message}`);
      process.exit(1);
    },
  );
}
