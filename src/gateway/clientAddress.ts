// The address a request comes from, for per-address rate limits. Behind a load balancer every
// connection comes from the balancer, so the client's address must be read from X-Forwarded-For,
// but only as written by proxies the operator trusts (CINDER_TRUST_PROXY); anyone else could
// send the header to dodge the limits. HTTP routes (Fastify's request.ip) and WebSocket upgrades
// use the same rule.
import type { IncomingMessage } from 'node:http';
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
