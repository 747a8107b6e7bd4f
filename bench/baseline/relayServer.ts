// The bare baseline: a minimal `ws` server that relays every message through Redis pub/sub, with
// no game logic, no validation, no state and no durable store. Two of these run side by side and
// are driven by the same load generator as Cinder, so Cinder's figures can be read as a ratio of
// what the socket layer plus one Redis hop cost on this machine.
//
// A client authenticates with `{"type":"auth","seq":0,"data":{"token":"ROOM.ID"}}` (answered at
// once). Then each frame is JSON-parsed (as any real server would) and:
//   - `say`: PUBLISHed on `room:ROOM`; each process subscribed there (those holding a client in the
//     room) sends a `said` event to its local clients in the room except the sender, and the
//     sender's process replies `ok` to the sender;
//   - any other type: PUBLISHed on `proc:ME` (this process's own channel); on receipt it replies
//     `ok` to the sender. One Redis round trip per action, as Cinder's lightest action needs at least.
// Replies and events have Cinder's shapes ({type, seq, data, ts} / {type, data, ts}).
import { Redis } from 'ioredis';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';

interface Client {
  id: number;
  room: string;
  socket: WebSocket;
}

interface Relayed {
  from: number;
  seq: number;
  proc: string;
  text?: string;
}

const port = Number(process.env.PORT);
const me = process.env.BASELINE_ID ?? String(process.pid);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const publisher = new Redis(redisUrl);
const subscriber = new Redis(redisUrl);
const clients = new Map<number, Client>();
const rooms = new Map<string, Set<Client>>();

function ok(client: Client | undefined, seq: number): void {
  client?.socket.send(`{"type":"ok","seq":${seq},"data":{},"ts":${Date.now()}}`);
}

subscriber.on('message', (channel: string, message: string) => {
  const relayed = JSON.parse(message) as Relayed;
  if (channel.startsWith('proc:')) {
    ok(clients.get(relayed.from), relayed.seq);
    return;
  }
  const here = rooms.get(channel.slice('room:'.length));
  if (here) {
    const frame = JSON.stringify({ type: 'said', data: { from: { id: relayed.from }, text: relayed.text }, ts: Date.now() });
    for (const client of here) if (client.id !== relayed.from) client.socket.send(frame);
  }
  if (relayed.proc === me) ok(clients.get(relayed.from), relayed.seq);
});

async function join(client: Client): Promise<void> {
  let here = rooms.get(client.room);
  if (!here) {
    rooms.set(client.room, (here = new Set()));
    await subscriber.subscribe(`room:${client.room}`);
  }
  here.add(client);
}

await subscriber.subscribe(`proc:${me}`);
const server = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });
server.on('connection', (socket) => {
  let client: Client | undefined;
  socket.on('message', (data: RawData) => {
    const message = JSON.parse((data as Buffer).toString('utf8')) as { type: string; seq: number; data?: { token?: string; text?: string } };
    if (message.type === 'auth') {
      const [room = '', id = '0'] = (message.data?.token ?? '').split('.');
      const joined: Client = { id: Number(id), room, socket };
      client = joined;
      clients.set(joined.id, joined);
      void join(joined).then(() => {
        ok(joined, message.seq);
      });
      return;
    }
    if (!client) return;
    const relayed: Relayed = { from: client.id, seq: message.seq, proc: me };
    if (message.type === 'say') {
      relayed.text = message.data?.text ?? '';
      void publisher.publish(`room:${client.room}`, JSON.stringify(relayed));
    } else {
      void publisher.publish(`proc:${me}`, JSON.stringify(relayed));
    }
  });
  socket.on('close', () => {
    if (!client) return;
    clients.delete(client.id);
    rooms.get(client.room)?.delete(client);
  });
});

server.on('listening', () => {
  console.log(`baseline relay ${me} listening on ${port}`);
});
process.on('SIGTERM', () => {
  server.close();
  publisher.disconnect();
  subscriber.disconnect();
  process.exit(0);
});
