/**
 * A TCP hop in front of a real server (Redis) that a test can take down and bring back:
 * `down()` cuts every open connection and refuses new ones, as a stopped Redis does;
 * `up()` listens again on the same port.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy { url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }

export async function startTcpProxy(target: { host: string; port: number }, scheme = 'redis'): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((ok, fail) => {
      server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => s.destroy());
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      server.once('error', fail).listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        ok();
      });
    });
  const down = async () => {
    const s = server as Server | null;
    server = null;
    for (const c of sockets) c.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return { url: `${scheme}://127.0.0.1:${port}`, down, up: listen, close: down };
}
