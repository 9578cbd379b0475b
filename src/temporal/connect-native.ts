import { NativeConnection } from '@temporalio/worker';
import { temporalConnectionOptions, type TemporalConfig } from './connect';

/**
 * The worker's native connection, with the same address, TLS and API key as the client's. A module
 * of its own so that the API, which never polls, does not load @temporalio/worker and its native
 * core (about 14 MB of RSS per API process).
 */
export async function connectTemporalNative(config: TemporalConfig): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(config));
}
