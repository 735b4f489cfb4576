/**
 * docker-compose's `preflight` step, before anything else of ours starts: are the settings a
 * deployment needs there, all of them, and does the deployment have a chain and a Daraja?
 *
 * With RPC_URL or MPESA_BASE_URL unset, compose points at its `sandbox` profile's chain and
 * simulator. Without that profile they never come, and the stack used to wait five minutes
 * for a deployment file and fail: now this step fails within seconds, in one line naming
 * every setting a deployment without the sandbox needs (or the profile to add). With real
 * settings it names every missing or unusable one at once. Secrets are compose's own
 * `${VAR:?}` checks; the services check their values again at start (common/src/safety.ts).
 */
import { lookup } from 'node:dns/promises';
import { z } from 'zod';
import { isDarajaSimulator, loadConfigOrExit, notPublicHttps, unreadableFile } from '@descrow/common';

/** Raw values as the operator set them (compose passes `${VAR:-}`: empty = unset). */
export const composePreflightEnvShape = {
  RPC_URL: z.string().optional(),
  CHAIN_ID: z.string().optional(),
  ESCROW_ADDRESS: z.string().optional(),
  ORACLE_ADDRESS: z.string().optional(),
  ARBITER_ADDRESS: z.string().optional(),
  MPESA_BASE_URL: z.string().optional(),
  MPESA_SHORTCODE: z.string().optional(),
  MPESA_B2C_SHORTCODE: z.string().optional(),
  MPESA_INITIATOR_NAME: z.string().optional(),
  MPESA_CERTIFICATE_PATH: z.string().optional(),
  ORACLE_PUBLIC_URL: z.string().optional(),
  ORACLE_CALLBACK_ALLOWED_IPS: z.string().optional(),
  ORACLE_CALLBACK_ALLOW_ANY_SOURCE: z.string().optional(),
  /** How long to wait for the sandbox profile's chain and simulator to appear on the network (s). */
  PREFLIGHT_WAIT_SECONDS: z.coerce.number().int().min(0).default(20),
};
type Settings = { [K in keyof typeof composePreflightEnvShape]?: string | number };

/** Settings a deployment on your own chain needs when the sandbox profile's deployer does not run. */
export const CHAIN_SETTINGS = ['RPC_URL', 'CHAIN_ID', 'ESCROW_ADDRESS', 'ORACLE_ADDRESS', 'ARBITER_ADDRESS'] as const;
/** Settings real Daraja needs (the simulator of the sandbox profile needs none). */
export const DARAJA_SETTINGS = ['MPESA_BASE_URL', 'MPESA_SHORTCODE', 'MPESA_B2C_SHORTCODE', 'MPESA_INITIATOR_NAME', 'MPESA_CERTIFICATE_PATH', 'ORACLE_PUBLIC_URL'] as const;

const set = (v: unknown) => v !== undefined && String(v).trim() !== '';

/** Every problem with the settings, each naming its variable (empty = fine). */
export function settingProblems(c: Settings, sandbox: { chain: boolean; daraja: boolean }): string[] {
  const problems: string[] = [];
  const missing: string[] = [];
  if (!sandbox.chain) missing.push(...CHAIN_SETTINGS.filter((k) => !set(c[k])));
  const realDaraja = set(c.MPESA_BASE_URL) && !isDarajaSimulator(String(c.MPESA_BASE_URL));
  if (!sandbox.daraja) {
    missing.push(...DARAJA_SETTINGS.filter((k) => !set(c[k])));
    if (!set(c.ORACLE_CALLBACK_ALLOWED_IPS) && c.ORACLE_CALLBACK_ALLOW_ANY_SOURCE !== 'true') missing.push('ORACLE_CALLBACK_ALLOWED_IPS (or ORACLE_CALLBACK_ALLOW_ANY_SOURCE=true)');
  }
  if (missing.length) problems.push(`unset: ${missing.join(', ')}`);
  if (realDaraja && set(c.ORACLE_PUBLIC_URL)) {
    const p = notPublicHttps(String(c.ORACLE_PUBLIC_URL));
    if (p) problems.push(`ORACLE_PUBLIC_URL ${p} (Daraja must reach it)`);
  }
  if (realDaraja && set(c.MPESA_CERTIFICATE_PATH)) {
    const p = unreadableFile(String(c.MPESA_CERTIFICATE_PATH));
    if (p) problems.push(`MPESA_CERTIFICATE_PATH ${p} (put Safaricom's certificate in ./certs and name /certs/<file>)`);
  }
  return problems;
}

/** Whether `host` resolves on this network within `seconds` (a sandbox service appears when its container starts). */
async function appears(host: string, seconds: number): Promise<boolean> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    if (await lookup(host).then(() => true, () => false)) return true;
    if (Date.now() >= until) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function main() {
  const c = loadConfigOrExit(composePreflightEnvShape);
  const wanted = { chain: !set(c.RPC_URL), daraja: !set(c.MPESA_BASE_URL) };
  const present = {
    chain: wanted.chain && (await appears('chain', c.PREFLIGHT_WAIT_SECONDS)),
    daraja: wanted.daraja && (await appears('daraja-sim', wanted.chain ? 0 : c.PREFLIGHT_WAIT_SECONDS)),
  };
  const problems = settingProblems(c, present);
  if (problems.length) {
    const noSandbox = (wanted.chain && !present.chain) || (wanted.daraja && !present.daraja);
    const hint = noSandbox
      ? ' — set them (.env.example, group "docker compose - without the sandbox profile") or run `docker compose --profile sandbox up` for a local chain and Daraja simulator'
      : ' — .env.example says what each is';
    process.stderr.write(`preflight: ${problems.join('; ')}${hint}\n`);
    process.exit(1);
  }
  const chain = present.chain ? 'the sandbox chain' : `${c.RPC_URL} (chain ${c.CHAIN_ID}, escrow ${c.ESCROW_ADDRESS})`;
  const daraja = present.daraja ? 'the Daraja simulator' : `${c.MPESA_BASE_URL}, callbacks to ${c.ORACLE_PUBLIC_URL}`;
  process.stdout.write(`preflight: settings complete; chain ${chain}; Daraja ${daraja}\n`);
}

if (require.main === module) {
  main().catch((err: Error) => {
    process.stderr.write(`preflight: ${err.message}\n`);
    process.exit(1);
  });
}
