// `npm start -- --workers 2`: one primary, two workers sharing the port; a worker that dies is
// replaced; SIGTERM stops everything gracefully, also while the workers are still starting; a
// worker that does not stop is killed on a second signal or at CINDER_SHUTDOWN_TIMEOUT_MS.
import { once } from 'node:events';
import { get, type ClientRequest } from 'node:http';
import { readFile } from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { registerPlayer } from '../support/accounts.ts';
import { until } from '../support/heldState.ts';
import { GameClient } from '../support/GameClient.ts';
import { isAlive, runServerUntilExit, startServerProcess, type ServerProcess } from '../support/serverProcess.ts';
import { ownScaledEnv } from '../support/scaledEnv.ts';
import { startScriptNodeFlags } from '../support/startScript.ts';

/** GET on a fresh connection (no keep-alive, so each request may land on another worker). */
function getFresh(baseUrl: string, path: string, timeout = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    // A connection handed to a worker at the moment it dies is never answered: give up on it.
    get(`${baseUrl}${path}`, { agent: false, timeout }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => {
        resolve(body);
      });
    })
      .on('timeout', function (this: ClientRequest) {
        this.destroy(new Error('no answer'));
      })
      .on('error', reject);
  });
}

/** The worker pid that answers a fresh connection. */
async function healthPid(baseUrl: string): Promise<number> {
  return (JSON.parse(await getFresh(baseUrl, '/api/health')) as { pid: number }).pid;
}

/** The samples of `name` in Prometheus text whose labels include `labels`, each with its labels. */
function samples(text: string, name: string, labels: Record<string, string> = {}): { labels: Record<string, string>; value: number }[] {
  return text.split('\n').flatMap((line) => {
    const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) return [];
    const own: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)) own[pair[1] ?? ''] = pair[2] ?? '';
    return Object.entries(labels).every(([key, value]) => own[key] === value) ? [{ labels: own, value: Number(match[3]) }] : [];
  });
}

/** The sum over workers of `name` with `labels`. */
function total(text: string, name: string, labels: Record<string, string> = {}): number {
  return samples(text, name, labels).reduce((sum, sample) => sum + sample.value, 0);
}

/** Asks until `want` workers have answered: a worker still starting (or restarting) answers later. */
async function pidsAnswering(baseUrl: string, want: number): Promise<Set<number>> {
  const pids = new Set<number>();
  const deadline = performance.now() + 30_000;
  while (pids.size < want && performance.now() < deadline) {
    const pid = await healthPid(baseUrl).catch(() => null);
    if (pid !== null) pids.add(pid);
  }
  return pids;
}

let cluster: ServerProcess | undefined;
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  await cluster?.stop();
  for (const cleanup of cleanups) await cleanup();
});

/** A Redis of the file's own, a fresh database and a data dir: what a cluster needs to start. */
async function clusterEnv(): Promise<{ dataDir: string; env: Record<string, string> }> {
  const { dataDir, env } = await ownScaledEnv('cluster', cleanups);
  return { dataDir, env: { ...env, CINDER_LOGIN_ATTEMPTS: '1000' } };
}

describe('--workers', () => {
  it('serves from two worker processes, replaces one that dies, and stops cleanly', async () => {
    const { dataDir, env } = await clusterEnv();
    cluster = await startServerProcess(dataDir, env, ['--workers', '2']);
    const started = cluster;
    await until(() => started.logs.filter((line) => line.includes(' is up: open ')).length === 2, 'both workers to be up');

    const pids = await pidsAnswering(cluster.baseUrl, 2);
    expect(pids.size).toBe(2);
    expect(pids.has(cluster.child.pid ?? -1)).toBe(false);
    // The garbage-collection flags of `npm start` reach the forked workers (docs/scaling.md).
    for (const pid of pids) {
      const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      expect(argv).toEqual(expect.arrayContaining(startScriptNodeFlags()));
    }

    // Two players, on whichever workers the primary handed their sockets to, play together.
    const a = await registerPlayer(cluster.baseUrl);
    const b = await registerPlayer(cluster.baseUrl);
    const ada = await GameClient.connect(cluster.wsUrl);
    const bo = await GameClient.connect(cluster.wsUrl);
    await ada.ok('auth', { token: a.token });
    await bo.ok('auth', { token: b.token });
    await ada.ok('say', { text: 'one port, two workers' });
    expect((await bo.event<{ text: string }>('said')).text).toBe('one port, two workers');

    // A scrape lands on either worker, and each answers for both, every series labelled with
    // its worker's slot.
    for (let scrape = 0; scrape < 4; scrape++) {
      const text = await getFresh(cluster.baseUrl, '/metrics');
      expect(samples(text, 'cinder_worker_processes').map((sample) => sample.labels.worker).sort(), text.slice(0, 300)).toEqual(['0', '1']);
      expect(total(text, 'cinder_connected_sockets')).toBe(2);
      expect(total(text, 'cinder_actions_total', { type: 'say' })).toBe(1);
      expect(total(text, 'cinder_actions_total', { type: 'auth' })).toBe(2);
      // Each worker's own process figures, not one worker's alone.
      expect(samples(text, 'process_start_time_seconds')).toHaveLength(2);
    }
    await ada.close();
    await bo.close();

    // A worker that stalls is left out of a scrape after 2 s rather than holding it back: the
    // other answers with its own series alone, and with both again once the stalled one resumes.
    const [stalled = -1, live = -1] = [...pids];
    process.kill(stalled, 'SIGSTOP');
    let partial: string | null = null;
    try {
      // A connection the primary hands to the stopped worker is never answered: ask again.
      for (let attempt = 0; attempt < 10 && partial === null; attempt++) partial = await getFresh(cluster.baseUrl, '/metrics', 5000).catch(() => null);
    } finally {
      process.kill(stalled, 'SIGCONT');
    }
    expect(partial).not.toBeNull();
    expect(samples(partial ?? '', 'cinder_worker_processes')).toHaveLength(1);
    expect(samples(partial ?? '', 'process_start_time_seconds')).toHaveLength(1);
    expect(await pidsAnswering(cluster.baseUrl, 2)).toEqual(new Set([stalled, live]));
    await until(async () => samples(await getFresh(started.baseUrl, '/metrics', 5000).catch(() => ''), 'cinder_worker_processes').length === 2, 'both workers in a scrape again');

    // A worker killed outright is replaced by the primary.
    const [victim] = [...pids];
    process.kill(victim ?? -1, 'SIGKILL');
    const after = await pidsAnswering(cluster.baseUrl, 2);
    expect(after.size).toBe(2);
    expect(after.has(victim ?? -1)).toBe(false);
    // The replacement took the slot of the worker it replaced: its series carry the same label.
    const replaced = await getFresh(cluster.baseUrl, '/metrics');
    expect(samples(replaced, 'cinder_worker_processes').map((sample) => sample.labels.worker).sort()).toEqual(['0', '1']);

    // SIGTERM to the primary: every worker shuts down gracefully, exit code 0. The SIGINT with it
    // is how a terminal's Ctrl-C reaches the primary under npm (also forwarded by npm): one request.
    cluster.child.kill('SIGINT');
    expect(await cluster.stop()).toBe(0);
    cluster = undefined;
  });

  describe('a worker that does not stop (here: stopped with SIGSTOP)', () => {
    /** A one-worker cluster whose worker is frozen; the primary, signalled, cannot stop it. */
    async function frozenCluster(env: Record<string, string> = {}): Promise<{ primary: ServerProcess; exited: Promise<number | null> }> {
      const own = await clusterEnv();
      const primary = await startServerProcess(own.dataDir, { ...own.env, ...env }, ['--workers', '1']);
      const [pid = -1] = await pidsAnswering(primary.baseUrl, 1);
      // Whatever the outcome, neither outlives the test.
      cleanups.push(() => primary.kill(), () => Promise.resolve(isAlive(pid) && process.kill(pid, 'SIGKILL')));
      process.kill(pid, 'SIGSTOP');
      const exited = once(primary.child, 'exit').then(([code]) => code as number | null);
      primary.child.kill('SIGTERM');
      await until(() => primary.logs.some((line) => line.includes('"msg":"stopping workers"')), 'the primary to stop its workers');
      return { primary, exited };
    }

    it('is killed when the primary gets a second SIGTERM or SIGINT, and the exit code is 1', async () => {
      const { primary, exited } = await frozenCluster();
      // An operator presses Ctrl-C again until it ends (a repeat within a second is not a second request).
      const again = setInterval(() => primary.child.kill('SIGINT'), 250);
      try {
        expect(await exited).toBe(1);
      } finally {
        clearInterval(again);
      }
      expect(primary.logs.join('\n')).toContain('killing the workers still running: a second signal (SIGINT) came while they were stopping');
    });

    it('is killed at CINDER_SHUTDOWN_TIMEOUT_MS, and the exit code is 1', async () => {
      const { primary, exited } = await frozenCluster({ CINDER_SHUTDOWN_TIMEOUT_MS: '300' });
      expect(await exited).toBe(1);
      expect(primary.logs.join('\n')).toContain('killing the workers still running: they did not stop within CINDER_SHUTDOWN_TIMEOUT_MS (300 ms)');
    });
  });

  // Workers just forked have no handler yet; workers further on are connecting or migrating.
  for (const [moment, pattern] of [
    ['as soon as they are forked', /"msg":"starting workers"/],
    ['while they connect and migrate', /"msg":"starting"/],
  ] as const) {
    it(`stops cleanly on SIGTERM ${moment}`, async () => {
      const { dataDir, env } = await clusterEnv();
      let signalled = false;
      const exited = await runServerUntilExit(dataDir, env, ['--workers', '2'], (line, child) => {
        if (signalled || !pattern.test(line)) return;
        signalled = true;
        child.kill('SIGTERM');
      });
      expect(signalled).toBe(true);
      expect({ code: exited.code, stderr: exited.stderr }).toEqual({ code: 0, stderr: [] });
      expect(exited.stdout.join('\n')).not.toContain('worker died');
    });
  }
});
