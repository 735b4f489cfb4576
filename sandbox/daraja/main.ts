/**
 * `npm run sandbox:daraja`: the Daraja simulator on DARAJA_SIM_PORT (default 4200).
 * Configuration from the environment (see .env.example, "Daraja simulator").
 */
import { createLogger, loadConfigOrExit } from '@descrow/common';
import { darajaSimEnvShape } from './src/config';
import { createDarajaSimulator } from './src/server';

async function main() {
  const config = loadConfigOrExit(darajaSimEnvShape);
  const logger = createLogger('daraja-sim', config.LOG_LEVEL);
  const sim = createDarajaSimulator(config, { logger });
  const url = await sim.listen();
  logger.info(
    { url, control: `${url}/__sim/state`, stkResolveMs: config.DARAJA_SIM_STK_RESOLVE_MS, callbackMode: config.DARAJA_SIM_CALLBACK_MODE },
    'ready: point MPESA_BASE_URL here',
  );
  const stop = async () => {
    logger.debug('stopping');
    await sim.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(`daraja simulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
