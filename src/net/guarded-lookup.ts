import dns from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Everything that is not a public unicast address (ipaddr.js's classification of IPv4 and IPv6). */
const PUBLIC_RANGES = new Set(['unicast']);

/** The refusal, recognisable by its code. */
export class PrivateAddressError extends Error {
  readonly code = 'EPRIVATEADDRESS';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly range: string,
  ) {
    super(`${host} resolves to ${address} (${range}), which is not a public address`);
  }
}

/** True when `address` is private, loopback, link-local or otherwise not publicly routable. */
export function isPrivateAddress(address: string): { private: boolean; range: string } {
  // ipaddr.process turns an IPv4-mapped IPv6 address back into IPv4, so ::ffff:127.0.0.1 is loopback.
  const range = ipaddr.process(address).range();
  return { private: !PUBLIC_RANGES.has(range), range };
}

/**
 * A `lookup` for http.request that refuses private, loopback and link-local addresses. It checks
 * the addresses the name resolved to, at the moment the socket connects, so a name that resolves
 * to a public address when registered and to 127.0.0.1 later (DNS rebinding) is still refused.
 */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses;
    for (const { address } of list) {
      const check = isPrivateAddress(address);
      if (check.private) return callback(new PrivateAddressError(hostname, address, check.range), '', 0);
    }
    if (options.all) return (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    const [first] = list;
    callback(null, first.address, first.family);
  });
};
