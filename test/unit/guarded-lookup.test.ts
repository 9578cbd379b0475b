import { isPrivateAddress, PrivateAddressError } from '../../src/net/guarded-lookup';

/**
 * The SSRF guard's classification. Only the pure function: no lookups, no outside network. The
 * guard on resolved names (a name that resolves to 127.0.0.1) is tested end to end in
 * test/integration/agent-loop.test.ts.
 */
describe('isPrivateAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.254', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'], // cloud metadata
    ['169.254.0.1', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['224.0.0.1', 'multicast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fe80::abcd:1234%eth0', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    // IPv4-mapped IPv6 is judged as the IPv4 address it carries.
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'linkLocal'],
  ])('refuses %s (%s)', (address, range) => {
    expect(isPrivateAddress(address)).toEqual({ private: true, range });
  });

  it.each(['93.184.216.34', '8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8'])(
    'allows the public address %s',
    (address) => {
      expect(isPrivateAddress(address)).toEqual({ private: false, range: 'unicast' });
    },
  );

  it('refuses the neighbours of the private ranges only inside them', () => {
    expect(isPrivateAddress('172.15.255.255').private).toBe(false);
    expect(isPrivateAddress('172.16.0.0').private).toBe(true);
    expect(isPrivateAddress('172.31.255.255').private).toBe(true);
    expect(isPrivateAddress('172.32.0.0').private).toBe(false);
    expect(isPrivateAddress('11.0.0.1').private).toBe(false);
    expect(isPrivateAddress('169.253.255.255').private).toBe(false);
  });

  it('names the host, the address and the range in the refusal', () => {
    const err = new PrivateAddressError('metadata.internal', '169.254.169.254', 'linkLocal');
    expect(err.code).toBe('EPRIVATEADDRESS');
    expect(err.message).toBe('metadata.internal resolves to 169.254.169.254 (linkLocal), which is not a public address');
  });
});
