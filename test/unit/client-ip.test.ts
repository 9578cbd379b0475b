import { clientIp, parseTrustedProxies } from '../../src/net/client-ip';
import { parseConfig } from '../../src/config';

describe('clientIp', () => {
  const trusted = parseTrustedProxies('10.0.0.1, 10.1.0.0/16, ::1');

  it('is the socket address when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientIp('::ffff:203.0.113.7', '198.51.100.1', [])).toBe('203.0.113.7');
    expect(clientIp('203.0.113.7', undefined, trusted)).toBe('203.0.113.7');
  });

  it('is the socket address when the peer is not a trusted proxy', () => {
    expect(clientIp('203.0.113.7', '198.51.100.1', trusted)).toBe('203.0.113.7');
  });

  it('is the nearest untrusted hop of X-Forwarded-For behind trusted proxies', () => {
    expect(clientIp('10.0.0.1', '198.51.100.1', trusted)).toBe('198.51.100.1');
    expect(clientIp('::ffff:10.0.0.1', 'forged, 198.51.100.1, 10.1.2.3', trusted)).toBe('198.51.100.1');
    expect(clientIp('::1', '192.0.2.5', trusted)).toBe('192.0.2.5');
  });

  it('stops at garbage in the header and keeps the last hop it could read', () => {
    expect(clientIp('10.0.0.1', 'not-an-ip', trusted)).toBe('10.0.0.1');
    expect(clientIp('10.0.0.1', 'nope, 10.1.0.9', trusted)).toBe('10.1.0.9');
  });
});

describe('TRUST_PROXY', () => {
  it('takes addresses and CIDR ranges, and refuses anything else at start-up', () => {
    expect(parseConfig({ TRUST_PROXY: '10.0.0.1, 10.1.0.0/16, ::1' }).TRUST_PROXY).toBe('10.0.0.1, 10.1.0.0/16, ::1');
    expect(() => parseConfig({ TRUST_PROXY: 'loadbalancer.internal' })).toThrow(/TRUST_PROXY/);
    expect(() => parseConfig({ TRUST_PROXY: '10.0.0.0/99' })).toThrow(/TRUST_PROXY/);
  });
});
