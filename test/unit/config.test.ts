// Settings that cannot work are refused at start-up with a line naming the variable, before the
// server connects to anything.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('takes the defaults when nothing is set', () => {
    const config = loadConfig({});
    expect({ port: config.port, heartbeat: config.heartbeatIntervalMs, timeout: config.workerTimeoutMs }).toEqual({ port: 3000, heartbeat: 1000, timeout: 5000 });
  });

  it('accepts every port from 0 (a free one) to 65535 and refuses the rest', () => {
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
    expect(loadConfig({ PORT: '65535' }).port).toBe(65_535);
    expect(() => loadConfig({ PORT: '99999' })).toThrow('PORT must be an integer from 0 to 65535, got "99999"');
    expect(() => loadConfig({ PORT: '-1' })).toThrow(/^PORT must be/);
    expect(() => loadConfig({ PORT: 'http' })).toThrow(/^PORT must be/);
  });

  it('refuses a LOG_LEVEL pino does not have, naming the ones it has', () => {
    expect(loadConfig({ LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(() => loadConfig({ LOG_LEVEL: 'verbose' })).toThrow('LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"');
  });

  it('refuses a heartbeat interval or a worker timeout of 0', () => {
    expect(() => loadConfig({ CINDER_HEARTBEAT_INTERVAL_MS: '0' })).toThrow('CINDER_HEARTBEAT_INTERVAL_MS must be an integer of at least 1, got "0"');
    expect(() => loadConfig({ CINDER_WORKER_TIMEOUT_MS: '0' })).toThrow('CINDER_WORKER_TIMEOUT_MS must be an integer of at least 1, got "0"');
  });

  it('refuses a worker timeout that a live worker could miss between two heartbeats', () => {
    expect(() => loadConfig({ CINDER_WORKER_TIMEOUT_MS: '500' })).toThrow(
      'CINDER_WORKER_TIMEOUT_MS (500) must be at least twice CINDER_HEARTBEAT_INTERVAL_MS (1000)',
    );
    expect(() => loadConfig({ CINDER_HEARTBEAT_INTERVAL_MS: '3000' })).toThrow(/CINDER_WORKER_TIMEOUT_MS \(5000\) must be at least twice/);
    const config = loadConfig({ CINDER_HEARTBEAT_INTERVAL_MS: '200', CINDER_WORKER_TIMEOUT_MS: '400' });
    expect({ heartbeat: config.heartbeatIntervalMs, timeout: config.workerTimeoutMs }).toEqual({ heartbeat: 200, timeout: 400 });
  });
});
