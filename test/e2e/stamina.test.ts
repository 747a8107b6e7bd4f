// Walking until exhausted: the refusal says how long to rest, and after that long the player walks
// on. The game's clock is the test's, moved on instead of waited for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPlayerOn, type GameClient } from '../support/GameClient.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';

let clock = Date.UTC(2026, 10, 22, 12);
let server: InProcessServer;
let client: GameClient;

beforeAll(async () => {
  server = await startInProcessServer({ CINDER_ACTION_BURST: '1000', CINDER_ACTIONS_PER_SECOND: '1000' }, { now: () => clock });
  ({ client } = await newPlayerOn(server));
}, 60_000);

afterAll(async () => {
  await client.close();
  await server.stop();
});

describe('stamina', () => {
  it('refuses a move when exhausted, says how long to rest, and allows it after that rest', async () => {
    let refusal: { code: string; message: string } | undefined;
    // Back and forth between the square and the north gate, each move after the 400 ms cooldown.
    for (let step = 0; step < 200 && !refusal; step++) {
      clock += 400;
      const reply = await client.request('move', { direction: step % 2 === 0 ? 'north' : 'south' });
      if (reply.type === 'error') refusal = reply.data as { code: string; message: string };
    }
    expect(refusal?.code).toBe('E_NO_STAMINA');
    const rest = /^You are too exhausted to move; rest (\d+) s\.$/.exec(refusal?.message ?? '');
    expect(rest, refusal?.message).not.toBeNull();
    const seconds = Number(rest?.[1]);
    // The Ashlands: a move costs 2, stamina comes back at 30 a minute: at most 4 s to wait.
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(4);

    const look = await client.ok<{ self: { locationId: string } }>('look');
    const direction = look.self.locationId === 'emberwell-square' ? 'north' : 'south';
    expect(await client.request('move', { direction })).toMatchObject({ type: 'error', data: { code: 'E_NO_STAMINA' } });
    clock += seconds * 1000;
    expect(await client.request('move', { direction })).toMatchObject({ type: 'ok' });
  });
});
