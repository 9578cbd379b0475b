import { clientIp, parseTrustedProxies } from '../../src/net/client-ip';
import { sessionCookie } from '../../src/console/session';

describe('the client address of a sign-in request', () => {
  const proxies = parseTrustedProxies('10.0.0.1, 10.0.0.2');

  it("is the socket's address when no proxy is trusted, whatever X-Forwarded-For claims", () => {
    expect(clientIp('::ffff:203.0.113.7', '198.51.100.1', [])).toBe('203.0.113.7');
  });

  it('is the first untrusted address from the right of X-Forwarded-For behind trusted proxies', () => {
    expect(clientIp('10.0.0.1', '198.51.100.66, 203.0.113.9, 10.0.0.2', proxies)).toBe('203.0.113.9');
    expect(clientIp('::ffff:10.0.0.1', '203.0.113.9', proxies)).toBe('203.0.113.9');
  });

  it("is the socket's address for a request that did not come through a trusted proxy", () => {
    expect(clientIp('203.0.113.50', '10.0.0.1', proxies)).toBe('203.0.113.50');
  });
});

describe('the session cookie', () => {
  it('is HttpOnly and SameSite=Lax, and Secure with the __Host- prefix behind https', () => {
    expect(sessionCookie('http://localhost:3000', 'abc', 60)).toBe('sv_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60');
    expect(sessionCookie('https://console.example.test', 'abc', 60)).toBe('__Host-sv_session=abc; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure');
  });
});
