// `npm run bench -- [flags]`: every knob of a run, with defaults sized for a 2-core machine on
// which servers, Redis, PostgreSQL and the load generators all share the cores.
import { parseArgs } from 'node:util';
import type { Mix } from './loadgen/messages.ts';

export interface Flags {
  /** Players connected in the hold phase (each 1 action per holdIntervalS). */
  players: number;
  /** Of those, how many drive the throughput steps and the broadcast phase. */
  active: number;
  workers: number;
  generators: number;
  /** Seconds measured per throughput step. */
  duration: number;
  warmup: number;
  /** A single offered rate instead of the step search. */
  rate: number | undefined;
  /** The ladder of offered rates the step search climbs until p99 exceeds the bound. */
  rates: number[];
  baselineRates: number[];
  p99BoundMs: number;
  holdSeconds: number;
  holdIntervalS: number;
  broadcastRate: number;
  broadcastSeconds: number;
  syncRate: number;
  perLocation: number;
  world: 'grid' | 'ashlands';
  baseline: boolean;
  cpuProf: boolean;
  heapSnapshot: boolean;
  heapSample: boolean;
  /** Node flags for the workers; undefined: those of `npm start`. */
  nodeFlags: string[] | undefined;
  out: string | undefined;
  mix: Mix;
  holdMix: Mix;
}

const USAGE = `npm run bench -- [flags]
  --players N          players connected and held at 1 action / --hold-interval s (default 10000)
  --active N           players driving the throughput steps and broadcasts (default 1000)
  --workers W          Cinder worker processes, each on its own port (default 2)
  --generators G       load-generator processes (default 2)
  --duration S         seconds measured per throughput step (default 8)
  --warmup S           seconds of each step before measuring (default 1)
  --rate R             measure only this offered rate (actions/s) instead of stepping
  --rates a,b,…        the ladder for Cinder (default 500,1000,1500,2000,2500,3000,4000,6000,8000,10000,12000,14000,16000)
  --baseline-rates a,… the ladder for the bare baseline (default 5000,10000,20000,30000,35000,40000,45000,50000)
  --p99 MS             latency bound of the step search (default 20)
  --hold S             seconds of the hold phase (default 20)
  --hold-interval S    seconds between two actions of one held player (default 5)
  --broadcast-rate R   offered rate of the broadcast phase (default 5000)
  --broadcast-seconds S (default 8)
  --sync-rate R        how fast the sync phase dirties players (default 2000 actions/s)
  --per-location N     players placed in each location (default 10)
  --world grid|ashlands  generated 32×32-ish grid (default) or the real 32-location Ashlands
  --no-baseline        skip the bare ws + Redis pub/sub baseline
  --cpu-prof           run the workers under node --cpu-prof and summarise the profiles
  --heap-snapshot      after the hold phase, write and summarise a heap snapshot of worker 0
  --heap-sample        sample each worker's allocations during the throughput steps, keeping
                       what only a mark-compact collected (what fills the old generation)
  --node-flags="--a --b"  node/V8 flags of the workers instead of those of \`npm start\` (="" for none)
  --mix look=35,inventory=40,say=20,move=4   action mix of the steps and broadcast phase
  --out DIR            where logs, profiles and result.json go (default: a new temp dir)`;

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} takes a positive number, got "${raw}"\n\n${USAGE}`);
  return value;
}

function ladder(name: string, raw: string | undefined, fallback: number[]): number[] {
  if (raw === undefined) return fallback;
  return raw.split(',').map((part) => positive(name, part.trim(), 0));
}

function parseMix(raw: string | undefined, fallback: Mix): Mix {
  if (raw === undefined) return fallback;
  const mix: Mix = {};
  for (const part of raw.split(',')) {
    const [kind, weight] = part.split('=');
    if (kind !== 'look' && kind !== 'inventory' && kind !== 'say' && kind !== 'move' && kind !== 'equip' && kind !== 'ping') {
      throw new Error(`--mix: unknown action "${kind ?? ''}" (look, inventory, say, move, equip, ping)`);
    }
    mix[kind] = positive('mix', weight, 0);
  }
  return mix;
}

export function parseFlags(argv: string[]): Flags {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      players: { type: 'string' },
      active: { type: 'string' },
      workers: { type: 'string' },
      generators: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rate: { type: 'string' },
      rates: { type: 'string' },
      'baseline-rates': { type: 'string' },
      p99: { type: 'string' },
      hold: { type: 'string' },
      'hold-interval': { type: 'string' },
      'broadcast-rate': { type: 'string' },
      'broadcast-seconds': { type: 'string' },
      'sync-rate': { type: 'string' },
      'per-location': { type: 'string' },
      world: { type: 'string' },
      'no-baseline': { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      'heap-snapshot': { type: 'boolean' },
      'heap-sample': { type: 'boolean' },
      'node-flags': { type: 'string' },
      mix: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values['heap-snapshot'] === true && values['heap-sample'] === true) throw new Error(`--heap-snapshot and --heap-sample both signal the workers with SIGUSR2: use one\n\n${USAGE}`);
  const players = Math.round(positive('players', values.players, 10_000));
  const world = values.world ?? 'grid';
  if (world !== 'grid' && world !== 'ashlands') throw new Error(`--world is grid or ashlands, got "${world}"`);
  const rate = values.rate === undefined ? undefined : positive('rate', values.rate, 0);
  return {
    players,
    active: Math.min(players, Math.round(positive('active', values.active, 1000))),
    workers: Math.round(positive('workers', values.workers, 2)),
    generators: Math.round(positive('generators', values.generators, 2)),
    duration: positive('duration', values.duration, 8),
    warmup: positive('warmup', values.warmup, 1),
    rate,
    rates: rate === undefined ? ladder('rates', values.rates, [500, 1000, 1500, 2000, 2500, 3000, 4000, 6000, 8000, 10_000, 12_000, 14_000, 16_000]) : [rate],
    baselineRates: rate === undefined ? ladder('baseline-rates', values['baseline-rates'], [5000, 10_000, 20_000, 30_000, 35_000, 40_000, 45_000, 50_000]) : [rate],
    p99BoundMs: positive('p99', values.p99, 20),
    holdSeconds: positive('hold', values.hold, 20),
    holdIntervalS: positive('hold-interval', values['hold-interval'], 5),
    broadcastRate: positive('broadcast-rate', values['broadcast-rate'], 5000),
    broadcastSeconds: positive('broadcast-seconds', values['broadcast-seconds'], 8),
    syncRate: positive('sync-rate', values['sync-rate'], 2000),
    perLocation: Math.round(positive('per-location', values['per-location'], 10)),
    world,
    baseline: values['no-baseline'] !== true,
    cpuProf: values['cpu-prof'] === true,
    heapSnapshot: values['heap-snapshot'] === true,
    heapSample: values['heap-sample'] === true,
    nodeFlags: values['node-flags']?.split(/\s+/).filter((flag) => flag !== ''),
    out: values.out,
    mix: parseMix(values.mix, { look: 35, inventory: 40, say: 20, move: 4 }),
    holdMix: { inventory: 45, look: 30, say: 15, move: 10 },
  };
}
