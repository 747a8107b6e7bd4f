// A real WebSocket client speaking the game protocol, for tests: numbered requests awaited by
// seq, and every event kept so a test can wait for the one it expects.
import type { ClientRequest, IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { registerPlayer } from './accounts.ts';

export interface ServerMessage {
  type: string;
  seq?: number | null;
  data: unknown;
  ts: number;
}

export interface Reply<T = Record<string, unknown>> {
  type: 'ok' | 'error';
  seq: number | null;
  data: T;
}

/** How the server answered an upgrade it refused. */
export interface RefusedUpgrade {
  status: number;
  body: unknown;
}

type Waiter = { match: (message: ServerMessage) => boolean; resolve: (message: ServerMessage) => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

export class GameClient {
  private seq = 0;
  readonly received: ServerMessage[] = [];
  private readonly waiters = new Set<Waiter>();
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw: Buffer) => {
      const message = JSON.parse(raw.toString('utf8')) as ServerMessage;
      this.received.push(message);
      for (const waiter of this.waiters) {
        if (waiter.match(message)) {
          this.waiters.delete(waiter);
          clearTimeout(waiter.timer);
          waiter.resolve(message);
        }
      }
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      for (const waiter of this.waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(new Error(`socket closed (${code}) while waiting`));
      }
      this.waiters.clear();
    });
  }

  /** Opens a socket to `url`; `headers` go with the upgrade request (e.g. X-Forwarded-For). */
  static connect(url: string, headers?: Record<string, string>): Promise<GameClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, headers ? { headers } : {});
      socket.once('open', () => {
        resolve(new GameClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /**
   * Like connect, but an upgrade the server refuses resolves with its status and JSON body
   * instead of failing.
   */
  static attempt(url: string, headers?: Record<string, string>): Promise<GameClient | RefusedUpgrade> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, headers ? { headers } : {});
      socket.once('open', () => {
        resolve(new GameClient(socket));
      });
      // With this listener, ending the refused handshake is the caller's job (ws's documented contract).
      socket.once('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.once('end', () => {
          request.destroy();
          resolve({ status: response.statusCode ?? 0, body: body === '' ? null : (JSON.parse(body) as unknown) });
        });
      });
      socket.once('error', reject);
    });
  }

  /** Waits for the first message (already received or future) that matches. */
  waitFor(match: (message: ServerMessage) => boolean, timeoutMs = 10_000, fromIndex = 0): Promise<ServerMessage> {
    const seen = this.received.slice(fromIndex).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error('timed out waiting for a message'));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Waits for an event of `type` whose data satisfies `where`. */
  event<T = Record<string, unknown>>(type: string, where: (data: T) => boolean = () => true): Promise<T> {
    return this.waitFor((message) => message.type === type && where(message.data as T)).then((message) => message.data as T);
  }

  events(type: string): unknown[] {
    return this.received.filter((message) => message.type === type).map((message) => message.data);
  }

  /** Sends raw text and waits for the reply carrying `seq` (or any error without one). */
  async raw(text: string | Buffer, seq: number | null = null): Promise<Reply> {
    const mark = this.received.length;
    this.socket.send(text);
    const reply = await this.waitFor(
      (message) => (message.type === 'ok' || message.type === 'error') && (message.seq ?? null) === seq,
      10_000,
      mark,
    );
    return reply as Reply;
  }

  request<T = Record<string, unknown>>(type: string, data?: unknown): Promise<Reply<T>> {
    const seq = ++this.seq;
    return this.raw(JSON.stringify({ type, seq, ...(data === undefined ? {} : { data }) }), seq) as Promise<Reply<T>>;
  }

  /** Like request, but fails the test unless the server answered ok. */
  async ok<T = Record<string, unknown>>(type: string, data?: unknown): Promise<T> {
    const reply = await this.request<T>(type, data);
    if (reply.type !== 'ok') throw new Error(`${type} was refused: ${JSON.stringify(reply.data)}`);
    return reply.data;
  }

  /** Resolves with the close code and reason once the server (or we) closed the socket. */
  whenClosed(): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve) => {
      this.socket.once('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString('utf8') });
      });
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => {
        resolve();
      });
      this.socket.close();
    });
  }
}

/** Registers a new player on `server` and authenticates a new connection as them. */
export async function newPlayerOn(server: { wsUrl: string; baseUrl: string }): Promise<{ client: GameClient; id: number }> {
  const { token, id } = await registerPlayer(server.baseUrl);
  const client = await GameClient.connect(server.wsUrl);
  await client.ok('auth', { token });
  return { client, id };
}
