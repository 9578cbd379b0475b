import type { RunningService } from '../../src/dev/services';

/**
 * The servers the global setup started, for the global teardown: jest runs both in the same
 * process, so a module-level holder carries them across.
 */
export const testStack: { current?: { redis: RunningService; temporal: RunningService; postgres: RunningService; dir: string } } = {};
