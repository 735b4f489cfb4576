import pino, { type Logger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/** Paths that must never reach a log line. */
export const REDACT_PATHS = [
  'password', '*.password', 'secret', '*.secret', 'privateKey', '*.privateKey', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'Password', '*.Password', 'SecurityCredential', '*.SecurityCredential', 'access_token', '*.access_token',
  'consumerSecret', '*.consumerSecret', 'passkey', '*.passkey', 'initiatorPassword', '*.initiatorPassword',
];

type Destination = ReturnType<typeof pino.destination>;
const destinations = new Set<Destination>();
let hooked = false;

function flushAll() {
  for (const d of destinations) {
    try {
      d.flushSync();
    } catch {
      /* not ready yet, or already closed */
    }
  }
}

/**
 * `pretty` (pino-pretty: one readable line per entry) in development, `json` everywhere
 * else (NODE_ENV test or production); LOG_FORMAT chooses explicitly.
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env): 'pretty' | 'json' {
  if (env.LOG_FORMAT === 'pretty' || env.LOG_FORMAT === 'json') return env.LOG_FORMAT;
  return (env.NODE_ENV || 'development') === 'development' ? 'pretty' : 'json';
}

/**
 * Structured logs (pino): JSON, or readable lines in development (logFormat). `service` names the part on every line. Lines go to stdout
 * through a buffered, asynchronous writer (a synchronous write per line cost the oracle a
 * quarter of its callback throughput); buffers are flushed every second and on exit.
 */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info', options: LoggerOptions = {}): Logger {
  const base: LoggerOptions = {
    name: service,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...options,
  };
  if (level === 'silent') return pino(base);
  if (logFormat() === 'pretty') {
    return pino(base, pretty({ colorize: !!process.stdout.isTTY, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', sync: true }));
  }
  // minLength 0: write as soon as the previous write finishes, batching whatever queued meanwhile.
  const destination = pino.destination({ dest: 1, sync: false, minLength: 0 });
  destinations.add(destination);
  if (!hooked) {
    hooked = true;
    process.once('exit', flushAll);
    setInterval(flushAll, 1_000).unref();
  }
  return pino(base, destination);
}
