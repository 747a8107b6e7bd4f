// WebSocket upgrades of the HTTP server, handed to `ws` directly. A connection keeps only its
// socket and the client's address: the upgrade's request and response are garbage once it is open.
// (A Fastify plugin kept both, and Fastify's request and reply, alive for every socket's
// lifetime: about a third of the heap a connected player held, all of it marked by each GC.)
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface WebSocketUpgrades {
  /** Stops accepting upgrades; sockets already open are left to their owners. */
  close(): void;
}

/**
 * Accepts upgrades of GET `path` (any query string); any other path is answered 404 and closed.
 * `ws` answers malformed handshakes (wrong method, missing key, bad version) itself.
 */
export function acceptWebSockets(
  server: Server,
  path: string,
  maxPayload: number,
  addressOf: (request: IncomingMessage) => string,
  onConnection: (socket: WebSocket, remoteAddress: string) => void,
): WebSocketUpgrades {
  // UTF-8 is checked by the connection, which answers a bad frame instead of closing (frameText).
  const wss = new WebSocketServer({ noServer: true, maxPayload, clientTracking: false, skipUTF8Validation: true });
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(request.url ?? '') !== path) {
      // The HTTP server no longer watches this socket: a reset now must not be an uncaught error.
      socket.on('error', () => socket.destroy());
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const remoteAddress = addressOf(request);
    wss.handleUpgrade(request, socket, head, (ws) => {
      onConnection(ws, remoteAddress);
    });
  };
  server.on('upgrade', onUpgrade);
  return {
    close() {
      server.off('upgrade', onUpgrade);
      wss.close();
    },
  };
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}
