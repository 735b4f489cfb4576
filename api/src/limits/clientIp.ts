/**
 * The client's address behind a configured list of trusted proxies: the right-most
 * X-Forwarded-For hop that is not a trusted proxy, as proxy-addr (what Express's and
 * Fastify's `trustProxy` use) decides it. A hop a client wrote itself sits left of the
 * hops our proxies appended, so it is never reached unless every hop after it is trusted.
 */
import proxyAddr from 'proxy-addr';
import type { IncomingMessage } from 'node:http';

export type ClientIp = (request: Request, serverContext: unknown) => string;

export function clientIpResolver(trusted: string[]): ClientIp {
  const trust = proxyAddr.compile(trusted);
  return (request, serverContext) => {
    const peer = (serverContext as { req?: IncomingMessage } | undefined)?.req?.socket?.remoteAddress;
    // In-process calls (tests, yoga.fetch) have no socket: one shared bucket, headers ignored.
    if (!peer) return 'local';
    const forwarded = trusted.length ? request.headers.get('x-forwarded-for') : null;
    // proxy-addr reads a Node request; only these two parts of it.
    const req = { socket: { remoteAddress: peer }, connection: { remoteAddress: peer }, headers: forwarded ? { 'x-forwarded-for': forwarded } : {} } as unknown as IncomingMessage;
    return proxyAddr(req, trust);
  };
}
