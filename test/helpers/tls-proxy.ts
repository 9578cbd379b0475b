import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

/** Files of a throwaway PKI made with openssl: a CA, a server certificate, a client certificate and one from another CA. */
export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by a CA the server does not trust. */
  strangerCert: string;
  strangerKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA and certificates signed by it; the server's names only `serverName` (no IP), so clients must say that name. */
export function makeTestPki(serverName: string): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sistava-pki-'));
  const ca = (name: string) =>
    openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`]);
  const leaf = (name: string, signer: string, ext: string) => {
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${signer}.crt`,
      '-CAkey',
      `${signer}.key`,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.crt`,
    ]);
  };
  ca('test-ca');
  ca('stranger-ca');
  leaf('server', 'test-ca', `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\n`);
  leaf('client', 'test-ca', 'extendedKeyUsage=clientAuth\n');
  leaf('stranger', 'stranger-ca', 'extendedKeyUsage=clientAuth\n');
  const file = (name: string) => path.join(dir, name);
  return {
    dir,
    caCert: file('test-ca.crt'),
    serverCert: file('server.crt'),
    serverKey: file('server.key'),
    clientCert: file('client.crt'),
    clientKey: file('client.key'),
    strangerCert: file('stranger.crt'),
    strangerKey: file('stranger.key'),
  };
}

export interface TlsProxy {
  address: string;
  /** Each TLS session that completed its handshake: whether a client certificate was verified, and its CN. */
  sessions: Array<{ clientCertificate?: string }>;
  close(): Promise<void>;
}

/**
 * TLS in front of a plaintext gRPC server (the Temporal dev server has no TLS flags): terminates TLS
 * (ALPN h2) with the PKI's server certificate and pipes the bytes to `upstream`. With `mutual`, it
 * asks for a client certificate and refuses a handshake without one signed by the PKI's CA.
 */
export async function startTlsProxy(pki: TestPki, upstream: string, opts: { mutual: boolean }): Promise<TlsProxy> {
  const [host, port] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.split(':').pop())];
  const sessions: TlsProxy['sessions'] = [];
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      key: fs.readFileSync(pki.serverKey),
      cert: fs.readFileSync(pki.serverCert),
      ca: fs.readFileSync(pki.caCert),
      requestCert: opts.mutual,
      rejectUnauthorized: opts.mutual,
      ALPNProtocols: ['h2'],
    },
    (socket) => {
      const peer = socket.getPeerCertificate();
      sessions.push(peer && peer.subject ? { clientCertificate: String(peer.subject.CN) } : {});
      const backend = net.connect(port, host);
      for (const s of [socket, backend]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => sockets.delete(s));
      }
      socket.pipe(backend).pipe(socket);
      socket.on('close', () => backend.destroy());
      backend.on('close', () => socket.destroy());
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: listening } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${listening}`,
    sessions,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A plaintext HTTP/2 server that records each request's headers and answers every gRPC call UNAUTHENTICATED. */
export async function startHeaderRecorder(): Promise<{ address: string; requests: http2.IncomingHttpHeaders[]; close(): Promise<void> }> {
  const requests: http2.IncomingHttpHeaders[] = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    requests.push(headers);
    stream.on('error', () => undefined);
    // A trailers-only gRPC answer: status 16, so the client stops at once.
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '16', 'grpc-message': 'recorded' }, { endStream: true });
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('error', () => undefined);
    session.on('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    async close() {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
