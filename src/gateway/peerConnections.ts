// Every TCP connection costs this worker a file descriptor, whatever it carries: idle keep-alive
// HTTP connections included, which the WebSocket limit per client address does not see. So one
// peer address may hold at most so many; behind a load balancer the peer is the balancer, which
// the operator trusts (CINDER_TRUST_PROXY) and which is not limited here.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { countRefusedConnection } from '../metrics.ts';
import { limitKey } from './clientAddress.ts';
import { refuseRaw, tooManyConnections } from './rawRefusal.ts';

/**
 * Refuses a connection from a peer that already holds `limit`, unless `exempt`: it is sent a 429
 * and closed at once, before the HTTP server reads anything from it (this listener runs first), so
 * no request it carries is ever handled. A request the client had already sent may make the close
 * a reset that the 429 does not outrun.
 */
export function capPeerConnections(server: Server, limit: number, exempt: (address: string) => boolean): void {
  const held = new Map<string, number>();
  server.prependListener('connection', (socket: Socket) => {
    const peer = socket.remoteAddress ?? '';
    if (exempt(peer)) return;
    const address = limitKey(peer);
    const count = held.get(address) ?? 0;
    if (count >= limit) {
      countRefusedConnection();
      refuseRaw(socket, '429 Too Many Requests', tooManyConnections(limit));
      // Not only half-closed: the descriptor goes now, and nothing more is read.
      socket.destroy();
      return;
    }
    held.set(address, count + 1);
    socket.once('close', () => {
      const left = (held.get(address) ?? 1) - 1;
      if (left > 0) held.set(address, left);
      else held.delete(address);
    });
  });
}
