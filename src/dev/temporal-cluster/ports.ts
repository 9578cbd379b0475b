import { portFree } from '../stack';

/** Every port the server binds besides the frontend's gRPC port. */
export interface ClusterPorts {
  frontendHttp: number;
  history: number;
  matching: number;
  worker: number;
  membership: { frontend: number; history: number; matching: number; worker: number };
  /** Prometheus metrics of the server (the sample's 8000). */
  metrics: number;
}

/**
 * The sample config's layout (7234 history, 7235 matching, 7239 worker, 7243 HTTP, 6933-6939
 * membership, 8000 metrics) moved along with the frontend port. All of those sit below Linux's
 * ephemeral range (32768+), so they never meet the random ports of the test suite's dev servers.
 * A frontend port outside that layout's reach (a test's random port) gets free ports below 32768
 * for everything instead: the membership table stores ports as a PostgreSQL smallint, and a
 * higher membership port makes the server exit at start.
 */
export async function clusterPorts(frontendPort: number): Promise<ClusterPorts> {
  const shift = frontendPort - 7233;
  if (frontendPort >= 1300 && frontendPort + 800 < 32768) {
    return {
      frontendHttp: 7243 + shift,
      history: 7234 + shift,
      matching: 7235 + shift,
      worker: 7239 + shift,
      membership: { frontend: 6933 + shift, history: 6934 + shift, matching: 6935 + shift, worker: 6939 + shift },
      metrics: 8000 + shift,
    };
  }
  const taken = new Set<number>([frontendPort]);
  const free = async () => {
    const port = await freeLowPort(taken);
    taken.add(port);
    return port;
  };
  return {
    frontendHttp: await free(),
    history: await free(),
    matching: await free(),
    worker: await free(),
    membership: { frontend: await free(), history: await free(), matching: await free(), worker: await free() },
    metrics: await free(),
  };
}

/** A port in 20000-32767 that nothing listens on at 127.0.0.1 (random probes, so parallel callers rarely meet). */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    if (taken.has(port)) continue;
    if (await portFree(port)) return port;
  }
  throw new Error('no free port below 32768');
}
