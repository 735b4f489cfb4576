/**
 * Everything the SubQuery node needs before it starts, done only when out of date:
 * - `indexer/project.yaml` from the root `project.ts` (for `subql codegen`);
 * - `subql codegen` → `indexer/src/types/` (entity classes) when schema.graphql changed;
 * - the handler bundle `indexer/dist/index.js` (esbuild; a few hundred ms) when any
 *   handler source changed;
 * - a project folder per run (`indexer/dist/runs/<schema>/`: manifest, bundle, `.env`),
 *   so several nodes (tests) can run at once.
 *
 * Concurrent callers (jest workers) are serialised with a lock directory.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { buildProject, type IndexerTarget } from '../../project';

const run = promisify(execFile);

export const ROOT = resolve(__dirname, '../..');
export const INDEXER_DIR = resolve(ROOT, 'indexer');
const SCHEMA = resolve(ROOT, 'schema.graphql');
const GENERATED_ABI = resolve(ROOT, 'contracts/generated/escrow.ts');
const TYPES_DIR = resolve(INDEXER_DIR, 'src/types');
const DIST_DIR = resolve(INDEXER_DIR, 'dist');
export const BUNDLE = resolve(DIST_DIR, 'index.js');
/** The contract's ABI alone, the data source's asset (project.ts). */
export const ABI_FILE = resolve(DIST_DIR, 'Escrow.abi.json');
const LOCK = resolve(ROOT, '.tmp/indexer-prepare.lock');

const PLACEHOLDER: IndexerTarget = {
  chainId: '31337',
  rpcUrl: 'http://127.0.0.1:8545',
  contractAddress: '0x0000000000000000000000000000000000000000',
  startBlock: 1,
};

export type Log = (line: string) => void;

function hashOf(parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

function filesUnder(dir: string, skip: (path: string) => boolean = () => false): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (skip(p)) continue;
    if (statSync(p).isDirectory()) out.push(...filesUnder(p, skip));
    else out.push(p);
  }
  return out;
}

function stampOk(file: string, hash: string): boolean {
  return existsSync(file) && readFileSync(file, 'utf8') === hash;
}

/** The manifest as plain JSON data, the shape the node reads. */
export interface ManifestJson {
  schema: { file: string };
  dataSources: { assets?: Record<string, { file: string }>; mapping: { file: string; handlers: unknown[] } }[];
}

/**
 * The manifest with every file path made relative to `baseDir`; `mapping` replaces the
 * handler bundle's path.
 */
export function manifestJson(target: IndexerTarget, baseDir: string, mapping?: string): ManifestJson {
  const project = buildProject(target);
  const fix = (file: string) => {
    const abs = resolve(ROOT, file);
    const rel = relative(baseDir, abs);
    return rel.startsWith('..') ? rel : `./${rel}`;
  };
  const json = JSON.parse(
    JSON.stringify(project, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v)),
  ) as ManifestJson;
  json.schema.file = fix(json.schema.file);
  for (const ds of json.dataSources) {
    for (const asset of Object.values(ds.assets ?? {})) asset.file = fix(asset.file);
    ds.mapping.file = mapping ?? fix(ds.mapping.file);
  }
  return json;
}

/** The manifest file's text: JSON (valid YAML) under a do-not-edit line. */
export function manifestText(json: ManifestJson): string {
  return `# Generated from project.ts by indexer/scripts/prepare.ts: do not edit.\n${JSON.stringify(json, null, 2)}\n`;
}

export function manifestFor(target: IndexerTarget, baseDir: string, mapping?: string): string {
  return manifestText(manifestJson(target, baseDir, mapping));
}

/**
 * Write the SubQuery project of one run into `indexer/dist/runs/<name>/` (under `root`)
 * and return its manifest: the manifest, a copy of the handler bundle (the node's
 * sandbox only loads code under the manifest's folder) and the `.env` the node hands
 * the handler (ESCROW_ADDRESS). One folder per run, so several nodes (tests) can run at once.
 */
export function writeRunProject(target: IndexerTarget, name: string, root = ROOT): string {
  const rel = join('indexer/dist/runs', name);
  const dir = resolve(root, rel);
  mkdirSync(dir, { recursive: true });
  copyFileSync(BUNDLE, join(dir, 'index.js'));
  writeFileSync(join(dir, '.env'), `# Written by indexer/scripts/prepare.ts for this run.\nESCROW_ADDRESS=${target.contractAddress.toLowerCase()}\n`);
  const file = join(dir, 'project.yaml');
  // Paths relative to the same folder in this checkout, so they also hold in a copy of it (compose).
  writeFileSync(file, manifestFor(target, resolve(ROOT, rel), './index.js'));
  return file;
}

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(dirname(LOCK), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // A lock older than two minutes belongs to a process that died.
      try {
        if (Date.now() - statSync(LOCK).mtimeMs > 120_000) rmSync(LOCK, { recursive: true, force: true });
      } catch {
        /* raced with its owner */
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Codegen and build if (and only if) their inputs changed. Fast when up to date. */
export async function prepareIndexer(log: Log = () => undefined): Promise<void> {
  if (!existsSync(GENERATED_ABI)) throw new Error(`${relative(ROOT, GENERATED_ABI)} is missing: run \`npm run build:contracts\` first`);
  await withLock(async () => {
    const started = Date.now();
    const abi = readFileSync(GENERATED_ABI);
    const cliVersion = (JSON.parse(readFileSync(require.resolve('@subql/cli/package.json'), 'utf8')) as { version: string }).version;
    const manifest = manifestFor(PLACEHOLDER, INDEXER_DIR);
    const abiJson = `${JSON.stringify((await import('../../contracts/generated/escrow')).escrowAbi)}\n`;
    if (!existsSync(ABI_FILE) || readFileSync(ABI_FILE, 'utf8') !== abiJson) {
      mkdirSync(DIST_DIR, { recursive: true });
      writeFileSync(ABI_FILE, abiJson);
    }

    // 1. codegen (entity classes, enums) from schema.graphql.
    const codegenHash = hashOf([readFileSync(SCHEMA), cliVersion, manifest]);
    const codegenStamp = resolve(TYPES_DIR, '.stamp');
    if (!stampOk(codegenStamp, codegenHash)) {
      log('indexer: subql codegen (schema changed)');
      writeFileSync(resolve(INDEXER_DIR, 'project.yaml'), manifest);
      rmSync(TYPES_DIR, { recursive: true, force: true });
      await run(process.execPath, [require.resolve('@subql/cli/bin/run'), 'codegen', resolve(INDEXER_DIR, 'project.yaml')], {
        cwd: INDEXER_DIR,
        maxBuffer: 16 * 1024 * 1024,
      }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`subql codegen failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
      });
      writeFileSync(codegenStamp, codegenHash);
    }

    // 2. bundle the handlers (with the contract's typed ABI) for the node's sandbox.
    const sources = filesUnder(resolve(INDEXER_DIR, 'src'));
    const buildHash = hashOf([...sources.flatMap((f) => [relative(ROOT, f), readFileSync(f)]), abi]);
    const buildStamp = resolve(DIST_DIR, '.stamp');
    if (!stampOk(buildStamp, buildHash) || !existsSync(BUNDLE)) {
      log('indexer: bundling handlers (sources changed)');
      mkdirSync(DIST_DIR, { recursive: true });
      const esbuild = await import('esbuild');
      const tmp = `${BUNDLE}.${process.pid}.tmp`;
      await esbuild.build({
        entryPoints: [resolve(INDEXER_DIR, 'src/index.ts')],
        outfile: tmp,
        bundle: true,
        platform: 'node',
        format: 'cjs',
        target: 'node20',
        sourcemap: 'inline',
        logLevel: 'error',
        // The sandbox allows a few Node built-ins only; nothing else may be required at run time.
        external: ['assert'],
      });
      renameSync(tmp, BUNDLE);
      writeFileSync(buildStamp, buildHash);
    }
    const took = Date.now() - started;
    if (took > 500) log(`indexer: prepared in ${took} ms`);
  });
}

if (require.main === module) {
  prepareIndexer((l) => console.log(l)).catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}
