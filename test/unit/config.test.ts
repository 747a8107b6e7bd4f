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

  it('takes numbers written as plain digits only', () => {
    for (const raw of ['1e3', '0x10', ' 5 ', '5.0', '+5']) {
      expect(() => loadConfig({ CINDER_LOGIN_ATTEMPTS: raw }), raw).toThrow(`CINDER_LOGIN_ATTEMPTS must be an integer from 1 to `);
    }
    expect(loadConfig({ CINDER_LOGIN_ATTEMPTS: '007' }).loginAttempts).toBe(7);
  });

  it('refuses a login window or token lifetime no store or signer can hold', () => {
    expect(() => loadConfig({ CINDER_LOGIN_WINDOW_MS: '10000000000000000' })).toThrow('CINDER_LOGIN_WINDOW_MS must be an integer from 1 to 31536000000, got "10000000000000000"');
    expect(() => loadConfig({ CINDER_TOKEN_TTL_SECONDS: '1000000000000000000000' })).toThrow('CINDER_TOKEN_TTL_SECONDS must be an integer from 1 to 315360000');
  });

  it('refuses a frame limit below the message limit: an oversized message must still be answered E_TOO_LARGE', () => {
    expect(() => loadConfig({ CINDER_MAX_FRAME_BYTES: '8192' })).toThrow('CINDER_MAX_FRAME_BYTES (8192) must be at least CINDER_MAX_MESSAGE_BYTES (16384)');
    expect(loadConfig({ CINDER_MAX_FRAME_BYTES: '16384' }).maxFrameBytes).toBe(16_384);
  });

  it('trims secrets (a secret file ends in a newline) and refuses short ones', () => {
    const config = loadConfig({ CINDER_ADMIN_TOKEN: 'operator-token-0123\n', CINDER_METRICS_TOKEN: ' monitoring-token-0123 ', CINDER_TOKEN_SECRET: `${'s'.repeat(32)}\n` });
    expect([config.adminToken, config.metricsToken, config.tokenSecret]).toEqual(['operator-token-0123', 'monitoring-token-0123', 's'.repeat(32)]);
    expect(() => loadConfig({ CINDER_ADMIN_TOKEN: 'hunter2' })).toThrow('CINDER_ADMIN_TOKEN must be at least 16 characters, got 7');
    expect(() => loadConfig({ CINDER_METRICS_TOKEN: 'short' })).toThrow('CINDER_METRICS_TOKEN must be at least 16 characters, got 5');
    expect(() => loadConfig({ CINDER_TOKEN_SECRET: 'changeme' })).toThrow('CINDER_TOKEN_SECRET must be at least 32 characters, got 8');
    expect(loadConfig({ CINDER_ADMIN_TOKEN: '  ' }).adminToken).toBeUndefined();
  });

  it('refuses a heartbeat interval or a worker timeout of 0', () => {
    expect(() => loadConfig({ CINDER_HEARTBEAT_INTERVAL_MS: '0' })).toThrow('CINDER_HEARTBEAT_INTERVAL_MS must be an integer from 1 to 2147483647, got "0"');
    expect(() => loadConfig({ CINDER_WORKER_TIMEOUT_MS: '0' })).toThrow('CINDER_WORKER_TIMEOUT_MS must be an integer from 1 to 2147483647, got "0"');
  });

  it('refuses a duration longer than a timer can wait (it would fire at once)', () => {
    for (const name of ['CINDER_AUTH_TIMEOUT_MS', 'CINDER_SHUTDOWN_TIMEOUT_MS', 'CINDER_SYNC_INTERVAL_MS', 'CINDER_CLEANUP_INTERVAL_MS']) {
      expect(() => loadConfig({ [name]: '3000000000' }), name).toThrow(`${name} must be an integer from 0 to 2147483647, got "3000000000"`);
      expect(loadConfig({ [name]: '2147483647' }), name).toBeDefined();
    }
  });

  it('refuses 0 for a size, burst, rate or count that would refuse everything or switch a limit off', () => {
    for (const name of ['CINDER_MAX_MESSAGE_BYTES', 'CINDER_MAX_FRAME_BYTES', 'CINDER_ACTION_BURST', 'CINDER_ACTIONS_PER_SECOND', 'CINDER_LOGIN_ATTEMPTS', 'CINDER_DATABASE_POOL_SIZE']) {
      expect(() => loadConfig({ [name]: '0' }), name).toThrow(new RegExp(`^${name} must be an integer from 1 to `));
    }
    expect(() => loadConfig({ CINDER_LOGIN_WINDOW_MS: '0' })).toThrow(/^CINDER_LOGIN_WINDOW_MS must be an integer from 1 to 31536000000/);
    // Not waited on by a timer: a 30-day linger is fine.
    expect(loadConfig({ CINDER_DISCONNECT_LINGER_MS: String(30 * 24 * 3600_000) }).disconnectLingerMs).toBe(30 * 24 * 3600_000);
    expect(() => loadConfig({ CINDER_MAX_FRAME_BYTES: String(2 ** 31) })).toThrow(/^CINDER_MAX_FRAME_BYTES must be an integer from 1 to 2147483647/);
    const config = loadConfig({ CINDER_ACTIONS_PER_SECOND: '1', CINDER_DATABASE_POOL_SIZE: '1' });
    expect({ rate: config.actionsPerSecond, pool: config.databasePoolSize }).toEqual({ rate: 1, pool: 1 });
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
