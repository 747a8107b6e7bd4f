// The address a request comes from, for per-address rate limits. Behind a load balancer every
// connection comes from the balancer, so the client's address must be read from X-Forwarded-For,
// but only as written by proxies the operator trusts (CINDER_TRUST_PROXY); anyone else could
// send the header to dodge the limits. HTTP routes (Fastify's request.ip) and WebSocket upgrades
// use the same rule.
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import proxyAddr from '@fastify/proxy-addr';

export type ProxyTrust = (address: string, hop: number) => boolean;

/** Trust for these proxies (addresses, CIDR ranges, or `loopback`/`linklocal`/`uniquelocal`); none when empty. */
export function proxyTrust(proxies: readonly string[]): ProxyTrust | undefined {
  if (proxies.length === 0) return undefined;
  try {
    return proxyAddr.compile([...proxies]);
  } catch (error) {
    throw new Error(`CINDER_TRUST_PROXY: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** The client's address: the peer's, or the nearest untrusted one that trusted proxies forwarded. */
export function clientAddress(request: IncomingMessage, trust: ProxyTrust | undefined): string {
  if (trust === undefined) return request.socket.remoteAddress ?? '';
  return proxyAddr(request, trust);
}

const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/**
 * What per-address limits count a client address by: an IPv4 address whole, an IPv6 address by
 * its /64. A subscriber is usually given a whole /64, every address of which is theirs to use: one
 * counted by its full address could take a fresh one for each attempt. IPv4-mapped IPv6 addresses
 * count as the IPv4 address they carry.
 */
export function limitKey(address: string): string {
  const bare = address.split('%', 1)[0] ?? address;
  const mapped = MAPPED_IPV4.exec(bare);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(bare)) return bare;
  const [head = '', tail] = bare.split('::');
  const groups = (part: string) => (part === '' ? [] : part.split(':'));
  // A dotted IPv4 tail (64:ff9b::1.2.3.4) holds two groups.
  const width = (parts: string[]) => parts.reduce((sum, part) => sum + (part.includes('.') ? 2 : 1), 0);
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const full = tail === undefined ? front : [...front, ...Array<string>(8 - width(front) - width(back)).fill('0'), ...back];
  return `${full.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}
