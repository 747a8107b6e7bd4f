// Answers written straight to a socket the HTTP server does not (or no longer) answer on: an
// upgrade refused, or a connection refused before any request is read.
import type { Duplex } from 'node:stream';

/** Writes an HTTP response with `body` (JSON, or nothing) and ends the socket. */
export function refuseRaw(socket: Duplex, status: string, body: string): void {
  // The HTTP server no longer watches this socket: a reset now must not be an uncaught error.
  socket.on('error', () => socket.destroy());
  const type = body === '' ? '' : 'Content-Type: application/json; charset=utf-8\r\n';
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n${type}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** The 429 an address gets beyond a limit of `limit` connections. */
export function tooManyConnections(limit: number): string {
  return JSON.stringify({ error: { code: 'E_RATE_LIMITED', message: `Too many connections from your address (at most ${limit}); close one first.` } });
}
