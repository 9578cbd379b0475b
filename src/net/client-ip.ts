import ipaddr from 'ipaddr.js';

/** Proxies whose X-Forwarded-For is believed: addresses and CIDR ranges (TRUST_PROXY). */
export type TrustedProxies = Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

/** `10.0.0.1, 10.1.0.0/16, ::1`; throws on an entry that is neither an address nor a CIDR. */
export function parseTrustedProxies(text: string | undefined): TrustedProxies {
  if (!text) return [];
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      if (entry.includes('/')) return ipaddr.parseCIDR(entry);
      const address = ipaddr.process(entry);
      return [address, address.kind() === 'ipv4' ? 32 : 128];
    });
}

/** Normalised address (an IPv4-mapped IPv6 address as plain IPv4), or undefined when it is no address. */
function parse(address: string | undefined): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const text = address?.trim();
  return text && ipaddr.isValid(text) ? ipaddr.process(text) : undefined;
}

function isTrusted(address: ipaddr.IPv4 | ipaddr.IPv6, trusted: TrustedProxies): boolean {
  return trusted.some(([range, bits]) => range.kind() === address.kind() && (address as ipaddr.IPv4).match(range, bits));
}

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy; then X-Forwarded-For
 * is read from its right end (the hop nearest us) past every trusted proxy, and the first address
 * that is not one is the client (what Express's `trust proxy` does with a list). Nothing a client
 * writes in the header counts unless every hop after it is trusted.
 */
export function clientIp(socketAddress: string | undefined, forwardedFor: string | undefined, trusted: TrustedProxies): string {
  const peer = parse(socketAddress);
  if (!peer) return socketAddress ?? 'unknown';
  if (trusted.length === 0 || !isTrusted(peer, trusted) || !forwardedFor) return peer.toString();
  let client = peer;
  for (const hop of forwardedFor.split(',').reverse()) {
    const address = parse(hop);
    if (!address) break; // garbage in the header: the last hop we could read stands
    client = address;
    if (!isTrusted(address, trusted)) break;
  }
  return client.toString();
}
