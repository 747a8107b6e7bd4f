// `--workers N`: a primary process forks N workers that share the listening port (node:cluster).
// The primary holds no game state. A worker that dies after it was up is replaced, later and later
// while it keeps dying. If one of the first N dies before it is up, the environment is wrong (a
// URL, a password, a port) and every replacement would die the same way: the primary stops the
// others and exits 1 with that worker's reason. On SIGTERM/SIGINT it stops every worker and waits
// for each to finish its own graceful shutdown; a second signal, or the shutdown deadline, kills
// those still running, and the exit code is then 1.
import cluster, { type Worker } from 'node:cluster';
import { gatherWorkerMetrics, WORKER_SLOT_ENV } from './clusterMetrics.ts';
import type { Log } from './log.ts';
import { CRASH_LOOP_DEATHS, WorkerRestarts } from './workerRestarts.ts';

const STARTUP_FAILED = 'cinder:startup-failed';
/**
 * A signal this soon after the first is the same request: a terminal's Ctrl-C reaches the primary
 * twice under `npm start`, from the terminal and forwarded by npm.
 */
export const REPEATED_SIGNAL_MS = 1000;

interface StartupFailed {
  type: typeof STARTUP_FAILED;
  message: string;
}

function isStartupFailed(message: unknown): message is StartupFailed {
  return typeof message === 'object' && message !== null && Reflect.get(message, 'type') === STARTUP_FAILED;
}

/**
 * In a worker: hands the reason it cannot start to the primary, which prints it once however many
 * workers fail alike. Prints it itself when there is no primary to tell.
 */
export function reportStartupFailure(message: string): Promise<void> {
  const send = process.send?.bind(process);
  if (!send) {
    console.error(message);
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const failed: StartupFailed = { type: STARTUP_FAILED, message };
    send(failed, undefined, {}, (error: Error | null) => {
      if (error) console.error(message);
      resolve();
    });
  });
}

interface WorkerState {
  slot: number;
  up: boolean;
  startupFailure?: string;
}

export interface PrimaryOptions {
  /** How long workers may take to stop before they are killed; 0 waits for ever. */
  shutdownTimeoutMs: number;
  env?: Record<string, string>;
}

export function runPrimary(workers: number, log: Log, { shutdownTimeoutMs, env = {} }: PrimaryOptions): void {
  let stopping = false;
  let exitCode = 0;
  /** Every one of the first N workers has been up once: from then on, start-up failures are crashes. */
  let started = false;
  const live = new Map<Worker, WorkerState>();
  const restarts = Array.from({ length: workers }, () => new WorkerRestarts());
  const pendingRestarts = new Set<NodeJS.Timeout>();

  const fork = (slot: number) => {
    const worker = cluster.fork({ ...env, [WORKER_SLOT_ENV]: String(slot) });
    const state: WorkerState = { slot, up: false };
    live.set(worker, state);
    worker.on('listening', () => {
      state.up = true;
      if (!started && live.size === workers && [...live.values()].every((other) => other.up)) started = true;
    });
    worker.on('message', (message: unknown) => {
      if (isStartupFailed(message)) state.startupFailure = message.message;
    });
    // 'close' rather than 'exit': it comes after the IPC channel is drained, so a failure the
    // worker reported just before exiting is known here.
    worker.process.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      live.delete(worker);
      exited(worker, state, code, signal);
    });
  };

  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    for (const timer of pendingRestarts) clearTimeout(timer);
    if (live.size === 0) process.exit(exitCode);
    for (const worker of live.keys()) worker.process.kill('SIGTERM');
    if (shutdownTimeoutMs > 0) {
      setTimeout(() => {
        kill(`they did not stop within CINDER_SHUTDOWN_TIMEOUT_MS (${shutdownTimeoutMs} ms)`);
      }, shutdownTimeoutMs).unref();
    }
  };

  /** Ends a shutdown that hangs: whatever a killed worker did not save stays dirty in Redis. */
  const kill = (why: string) => {
    if (live.size === 0) return;
    exitCode = 1;
    log.error({ pids: [...live.keys()].map((worker) => worker.process.pid) }, `killing the workers still running: ${why}`);
    for (const worker of live.keys()) worker.process.kill('SIGKILL');
  };

  const exited = (worker: Worker, state: WorkerState, code: number | null, signal: NodeJS.Signals | null) => {
    const pid = worker.process.pid;
    if (stopping) {
      // A worker that was never up had no players to save: however it ended, nothing was lost.
      if (state.up && code !== 0) exitCode = 1;
      if (live.size === 0) process.exit(exitCode);
      return;
    }
    if (!state.up && !started) {
      console.error(state.startupFailure ?? `A worker (pid ${pid}) exited (${signal ?? `code ${code}`}) before it was up; see its output above. Stopping.`);
      stop(1);
      return;
    }
    // Monotonic: a wall clock stepped back would make a long-lived worker look like a crash loop.
    const slot = restarts[state.slot];
    const delay = slot?.died(performance.now()) ?? 0;
    const inARow = slot?.deathsInARow ?? 1;
    const about = { pid, code, signal, restartInMs: delay, deathsInARow: inARow, ...(state.startupFailure ? { reason: state.startupFailure } : {}) };
    // The primary itself stays up through a crash loop, so a process manager sees nothing: say it loudly.
    if (inARow >= CRASH_LOOP_DEATHS) log.error(about, `worker keeps dying (${inARow} times in a row, each within a minute of its start); starting a new one, later and later: see what it logged before dying`);
    else log.warn(about, 'worker died; starting a new one');
    const timer = setTimeout(() => {
      pendingRestarts.delete(timer);
      fork(state.slot);
    }, delay);
    pendingRestarts.add(timer);
  };

  // Before forking: a signal while the workers start must stop them, not kill the primary.
  // A second one (not a repeat of the first) kills the workers that are still stopping.
  let signalledAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalledAt === undefined) {
      signalledAt = performance.now();
      log.info({ signal }, 'stopping workers');
      stop(0);
    } else if (performance.now() - signalledAt >= REPEATED_SIGNAL_MS) {
      kill(`a second signal (${signal}) came while they were stopping`);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  gatherWorkerMetrics();
  log.info({ workers }, 'starting workers');
  for (let slot = 0; slot < workers; slot++) fork(slot);
}
