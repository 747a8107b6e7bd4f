// WebSocket upgrades of the HTTP server, handed to `ws` directly. A connection keeps only its
// socket and the client's address: the upgrade's request and response are garbage once it is open.
// (A Fastify plugin kept both, and Fastify's request and reply, alive for every socket's
// lifetime: about a third of the heap a connected player held, all of it marked by each GC.)
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { ERRORS } from '../errors.ts';
import { countRefusedUpgrade } from '../metrics.ts';
import { refuseRaw, tooManyConnections } from './rawRefusal.ts';

export interface WebSocketUpgrades {
  /** Refuses upgrades from now on (503 E_SHUTTING_DOWN); sockets already open are left to their owners. */
  close(): void;
  /**
   * Closes every socket still open with `code`, and cuts (terminates) those whose client has not
   * answered the close within `graceMs`. Resolves once all are closed, with how many were cut.
   */
  closeOpen(code: number, reason: string, graceMs: number): Promise<number>;
}

/**
 * Accepts upgrades of GET `path` (any query string); any other path is answered 404 and closed.
 * `ws` answers malformed handshakes (wrong method, missing key, bad version) itself. A client
 * address that holds `maxPerAddress` open sockets is refused (429) until one of them closes.
 */
export function acceptWebSockets(
  server: Server,
  path: string,
  maxPayload: number,
  maxPerAddress: number,
  addressOf: (request: IncomingMessage) => string,
  onConnection: (socket: WebSocket, remoteAddress: string) => void,
): WebSocketUpgrades {
  // UTF-8 is checked by the connection, which answers a bad frame instead of closing (frameText).
  const wss = new WebSocketServer({ noServer: true, maxPayload, clientTracking: false, skipUTF8Validation: true });
  const open = new Set<WebSocket>();
  // Counted here, per worker, rather than in the hot store: a round trip per upgrade would cost
  // every connection, and each worker's own descriptors are what a flood of sockets exhausts.
  const perAddress = new Map<string, number>();
  const release = (address: string) => {
    const held = (perAddress.get(address) ?? 0) - 1;
    if (held > 0) perAddress.set(address, held);
    else perAddress.delete(address);
  };
  let accepting = true;
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(request.url ?? '') !== path) {
      refuseRaw(socket, '404 Not Found', '');
      return;
    }
    if (!accepting) {
      // A socket opened now would miss the shutdown's goodbyes and hold the server open.
      refuseRaw(socket, '503 Service Unavailable', JSON.stringify({ error: { code: 'E_SHUTTING_DOWN', message: ERRORS.E_SHUTTING_DOWN } }));
      return;
    }
    const remoteAddress = addressOf(request);
    if ((perAddress.get(remoteAddress) ?? 0) >= maxPerAddress) {
      countRefusedUpgrade('per_address');
      refuseRaw(socket, '429 Too Many Requests', tooManyConnections(maxPerAddress));
      return;
    }
    // ws completes a handshake synchronously (no verifyClient): nothing opens between the check and the count.
    wss.handleUpgrade(request, socket, head, (ws) => {
      open.add(ws);
      perAddress.set(remoteAddress, (perAddress.get(remoteAddress) ?? 0) + 1);
      ws.once('close', () => {
        open.delete(ws);
        release(remoteAddress);
      });
      onConnection(ws, remoteAddress);
    });
  };
  server.on('upgrade', onUpgrade);
  return {
    close() {
      if (!accepting) return;
      accepting = false;
      wss.close();
    },
    async closeOpen(code, reason, graceMs) {
      const closing = [...open];
      const closed = closing.map((ws) => new Promise((resolve) => ws.once('close', resolve)));
      for (const ws of closing) if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
      let cut = 0;
      // `ws` itself waits 30 s for a close frame that a stalled or hostile client never sends.
      const deadline = setTimeout(() => {
        for (const ws of open) {
          cut++;
          ws.terminate();
        }
      }, graceMs);
      await Promise.all(closed);
      clearTimeout(deadline);
      return cut;
    },
  };
}

/** Answers an upgrade with an HTTP error and closes its connection. */
function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}
