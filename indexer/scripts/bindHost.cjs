/**
 * Preloaded (`node --require`) into the SubQuery node and query service: a server that
 * listens on a port without naming an address (both call Nest's `app.listen(port)`, which
 * binds every interface and has no host option) listens on INDEXER_BIND_HOST instead.
 * Explicit addresses, sockets and handles are left as they are.
 */
const net = require('node:net');

const host = process.env.INDEXER_BIND_HOST;
if (host) {
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function listenOnBindHost(...args) {
    const port = args[0];
    if (typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port))) {
      if (args.length === 1 || typeof args[1] === 'function') args.splice(1, 0, host);
      else if (args[1] === undefined || args[1] === null) args[1] = host;
    } else if (port && typeof port === 'object' && port.port !== undefined && port.host === undefined && port.path === undefined) {
      args[0] = { ...port, host };
    }
    return listen.apply(this, args);
  };
}
