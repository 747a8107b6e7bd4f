// Per-address limits count an IPv6 client by its /64, which is usually one subscriber's to use
// whole, and an IPv4 address (also written IPv4-mapped) whole.
import { describe, expect, it } from 'vitest';
import { limitKey } from '../../src/gateway/clientAddress.ts';

describe('limitKey', () => {
  it('keeps an IPv4 address whole, however it is written', () => {
    expect(limitKey('203.0.113.5')).toBe('203.0.113.5');
    expect(limitKey('::ffff:203.0.113.5')).toBe('203.0.113.5');
    expect(limitKey('::FFFF:203.0.113.5')).toBe('203.0.113.5');
  });

  it('counts every address of one IPv6 /64 as one, in any spelling, and another /64 apart', () => {
    const key = limitKey('2001:db8:1:2:3:4:5:6');
    expect(key).toBe('2001:db8:1:2::/64');
    for (const address of ['2001:DB8:1:2::9', '2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2::1.2.3.4', '2001:db8:1:2::1%eth0']) {
      expect(limitKey(address), address).toBe(key);
    }
    expect(limitKey('2001:db8:1:3::9')).not.toBe(key);
    expect(limitKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(limitKey('64:ff9b::1.2.3.4')).toBe('64:ff9b:0:0::/64');
    expect(limitKey('::1')).toBe('0:0:0:0::/64');
  });

  it('leaves what is not an address as it is', () => {
    expect(limitKey('')).toBe('');
    expect(limitKey('not an address')).toBe('not an address');
  });
});
