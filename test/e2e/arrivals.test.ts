// Where a connection listens follows its character at once: what is said in a location a player
// has just entered, before the reply's view was read, reaches them (after that reply).
import { afterEach, expect, it, vi } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { playingOn } from '../support/crateWorld.ts';
import { serverForFile } from '../support/inProcessServer.ts';
import type { PlayView } from '../support/views.ts';

const file = serverForFile();
const { clients } = file;

afterEach(() => {
  vi.restoreAllMocks();
});

/** A player standing one step from the start, and the direction of that step. */
async function waitingNextDoor(): Promise<{ client: GameClient; direction: string; there: string }> {
  const client = await playingOn(file.server(), clients);
  const { location } = await client.ok<PlayView>('look');
  const exit = location.exits[0];
  if (!exit) throw new Error(`${location.id} has no exit`);
  await client.ok('move', { direction: exit.direction });
  return { client, direction: exit.direction, there: exit.locationId };
}

it('hears what is said where it arrives while the move reads its view, after the move\'s reply', async () => {
  const server = file.server();
  const { client: speaker, direction, there } = await waitingNextDoor();
  const mover = await playingOn(server, clients);
  const moverId = (await mover.ok<PlayView>('look')).self.id;
  const readSurroundings = server.server.ctx.gsm.readSurroundings.bind(server.server.ctx.gsm);
  let armed = true;
  vi.spyOn(server.server.ctx.gsm, 'readSurroundings').mockImplementation(async (id) => {
    if (armed && id === moverId) {
      armed = false;
      await speaker.ok('say', { text: 'welcome, traveller' });
    }
    return readSurroundings(id);
  });
  const view = await mover.ok<PlayView>('move', { direction });
  expect(view.location.id).toBe(there);
  expect(armed).toBe(false);
  const heard = await mover.event<{ text: string }>('said', (said) => said.text === 'welcome, traveller');
  expect(heard.text).toBe('welcome, traveller');
  // After the reply, which it would otherwise precede: the client still shows the old location until then.
  const reply = mover.received.findIndex((message) => message.type === 'ok' && (message.data as Partial<PlayView>).location?.id === there);
  const said = mover.received.findIndex((message) => message.type === 'said' && (message.data as { text?: string }).text === 'welcome, traveller');
  expect(reply).toBeGreaterThanOrEqual(0);
  expect(said).toBeGreaterThan(reply);
});

it('listens where its view shows when the replaced session asks to move during the auth', async () => {
  const server = file.server();
  const { client: nextDoor, direction } = await waitingNextDoor();
  const here = await playingOn(server, clients);
  const player = await registerPlayer(server.baseUrl);
  const old = await GameClient.connect(server.wsUrl);
  clients.push(old);
  const start = (await old.ok<PlayView>('auth', { token: player.token })).location.id;
  const gsm = server.server.ctx.gsm;
  // Once connect has taken the character for the new session, the old one asks to move (refused
  // with E_SESSION_REPLACED, or its socket already closed with 4001), and something is said next door.
  let raced = false;
  vi.spyOn(gsm, 'sessionEpoch').mockImplementationOnce(async (id) => {
    raced = true;
    await old.request('move', { direction }).catch(() => undefined);
    await nextDoor.ok('say', { text: 'said next door' });
    return gsm.sessionEpoch(id);
  });
  const client = await GameClient.connect(server.wsUrl);
  clients.push(client);
  const view = await client.ok<PlayView>('auth', { token: player.token });
  // The race this test is about did happen inside the auth.
  expect(raced).toBe(true);
  expect(view.location.id).toBe(start);
  await here.ok('say', { text: 'you made it' });
  expect((await client.event<{ text: string }>('said', (said) => said.text === 'you made it')).text).toBe('you made it');
  // Nothing said where the character is not is shown as said here.
  expect(client.events('said')).toEqual([expect.objectContaining({ text: 'you made it' })]);
});
