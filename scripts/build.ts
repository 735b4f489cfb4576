/**
 * `npm run build`: compiles every service entry point to one JavaScript file with esbuild,
 * into `build/` at the same relative path (`oracle/src/main.ts` → `build/oracle/src/main.js`),
 * so the `__dirname`-relative files each service reads (migrations, GraphQL schema,
 * simulator certificates) sit where they do in the repository. Our workspaces
 * (`@descrow/*`) are compiled in; every other package stays a `require` of node_modules,
 * which the image installs with production dependencies only (Dockerfile).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
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
  'scripts/compose-indexer-dictionary.ts',
  'scripts/dbSetup.ts',
  'scripts/compose-preflight.ts',
  // Backups in the runtime image (compose's `backup` profile; pg_dump from postgresql-client).
  'scripts/backup/backup.ts',
  'scripts/backup/restore.ts',
  'scripts/backup/schedule.ts',
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

/** Where the API looks for the console (api/src/app.ts CONSOLE_DIR), relative to the app's root. */
export const CONSOLE_DIST = 'console/dist';

/**
 * The web console (console/): its typed GraphQL client generated from the API's schema,
 * then Vite's production build into `outDir` (the API serves it at /console).
 */
export function buildConsole(outDir = resolve(ROOT, CONSOLE_DIST)): void {
  const bin = (name: string) => resolve(ROOT, 'node_modules/.bin', name);
  for (const [cmd, args] of [[bin('graphql-codegen'), ['--config', 'codegen.ts']], [bin('vite'), ['build', '--logLevel', 'warn', '--outDir', outDir]]] as const) {
    const r = spawnSync(cmd, [...args], { cwd: resolve(ROOT, 'console'), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`console: ${cmd.split('/').pop()} failed:\n${r.stdout}${r.stderr}`);
  }
}

/** The console's build is older than its sources or the API schema (or missing). */
export function consoleStale(outDir = resolve(ROOT, CONSOLE_DIST)): boolean {
  const built = resolve(outDir, 'index.html');
  if (!existsSync(built)) return true;
  const newest = (p: string): number => (statSync(p).isDirectory() ? Math.max(0, ...readdirSync(p).filter((f) => f !== 'gql').map((f) => newest(resolve(p, f)))) : statSync(p).mtimeMs);
  const sources = ['console/src', 'console/index.html', 'console/vite.config.ts', 'console/codegen.ts', 'api/src/schema/schema.graphql'].map((p) => newest(resolve(ROOT, p)));
  return Math.max(...sources) > statSync(built).mtimeMs;
}

export async function buildServices(out = OUT): Promise<void> {
  if (out === OUT) rmSync(OUT, { recursive: true, force: true });
  buildConsole(resolve(out, CONSOLE_DIST));
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
    () => console.log(`build: ${ENTRIES.length} services compiled into build/, the console into build/${CONSOLE_DIST}`),
    (err: Error) => {
      console.error(`build: ${err.message}`);
      process.exit(1);
    },
  );
}
