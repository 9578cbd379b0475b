import ipaddr from 'ipaddr.js';

/** An address in one spelling: IPv4-mapped IPv6 (::ffff:1.2.3.4) as IPv4; anything unparsable as given. */
export function normalizeIp(address: string): string {
  const trimmed = address.trim();
  return ipaddr.isValid(trimmed) ? ipaddr.process(trimmed).toString() : trimmed;
}

/**
 * The client's address for per-IP limits: the socket's, unless that is one of the `trusted` proxies;
 * then X-Forwarded-For is read from the right (each proxy appends the address it saw), skipping
 * trusted proxies, and the first other address is the client. Entries left of it could be forged.
 */
export function clientIp(socketAddress: string | undefined, forwardedFor: string | undefined, trusted: ReadonlySet<string>): string {
  let ip = normalizeIp(socketAddress ?? 'unknown');
  if (!trusted.has(ip) || !forwardedFor) return ip;
  const hops = forwardedFor.split(',');
  while (hops.length > 0) {
    const hop = normalizeIp(hops.pop()!);
    if (hop === '') continue;
    ip = hop;
    if (!trusted.has(hop)) break;
  }
  return ip;
}
