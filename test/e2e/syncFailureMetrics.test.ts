// What an operator's alert sees while PostgreSQL is out of reach of the sync: each failed run is
// counted as failed in cinder_job_runs_total (not ok), and once it is back the sync runs, and is
// counted, as ok again. Errors whose message is DURABLE_BLIP count as the durable store being
// unreachable, as a PostgreSQL outage would.
import { afterAll, beforeAll, it } from 'vitest';
import type { Adapters } from '../../src/adapters/Adapters.ts';
import type { DurableStore } from '../../src/adapters/durable/DurableStore.ts';
import { registerPlayer } from '../support/accounts.ts';
import { GameClient } from '../support/GameClient.ts';
import { until } from '../support/heldState.ts';
import { startInProcessServer, type InProcessServer } from '../support/inProcessServer.ts';

const DURABLE_BLIP = 'durable store blip';
let failing = false;
let server: InProcessServer;
let client: GameClient | undefined;

/** The durable store, whose batch writes fail while `failing` is set. */
function failingWrites(adapters: Adapters): Adapters {
  const durable = adapters.durable;
  const wrapped = new Proxy(durable, {
    get(target, property, receiver) {
      if (property === 'writeBatch') {
        return (...args: Parameters<DurableStore['writeBatch']>) => (failing ? Promise.reject(new Error(DURABLE_BLIP)) : target.writeBatch(...args));
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return {
    ...adapters,
    durable: wrapped,
    failureOf: (error) => (error instanceof Error && error.message === DURABLE_BLIP ? 'durable' : adapters.failureOf(error)),
  };
}

beforeAll(async () => {
  server = await startInProcessServer({ CINDER_SYNC_INTERVAL_MS: '50' }, { adapt: failingWrites });
}, 60_000);

afterAll(async () => {
  failing = false;
  await client?.close();
  await server.stop();
});

async function syncRuns(result: 'ok' | 'failed'): Promise<number> {
  const text = await (await fetch(`${server.baseUrl}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`cinder_job_runs_total{job="sync",result="${result}"} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

it('counts the sync runs that found the durable store out of reach as failed, then as ok once it is back', async () => {
  const { token } = await registerPlayer(server.baseUrl);
  client = await GameClient.connect(server.wsUrl);
  const { location } = await client.ok<{ location: { exits: { direction: string }[] } }>('auth', { token });
  failing = true;
  // Something for the sync to write.
  await client.ok('move', { direction: location.exits[0]?.direction });
  await until(async () => (await syncRuns('failed')) >= 1, 'a failed sync run to be counted');
  const okMeanwhile = await syncRuns('ok');

  failing = false;
  await until(async () => (await syncRuns('ok')) > okMeanwhile, 'the sync to run again once the store is back');
});
