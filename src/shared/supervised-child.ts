/**
 * A child that has not stopped this long after its supervisor went away exits anyway. The API needs
 * SHUTDOWN_DELAY_MS + SHUTDOWN_DRAIN_MS (11 s by default); a worker whose Temporal server died with
 * the same stack was measured taking 6-16 s to give up its polls. The stack is gone either way, and
 * Temporal hands unfinished activities to another worker.
 */
const STOP_BACKSTOP_MS = 15_000;

/**
 * For entry points a supervisor spawns with an IPC channel (src/dev/supervisor.ts): when that
 * channel closes, the supervisor is gone, whether it stopped, crashed or was SIGKILLed (the kernel
 * closes its end either way), and `stop` is called, once. So no API or worker outlives its stack,
 * holding its ports and taking another stack's tasks. Without such a channel (production, tests):
 * nothing. The channel does not keep the process alive.
 */
export function exitWithSupervisor(stop: () => void): void {
  if (!process.send || !process.connected) return;
  process.once('disconnect', () => {
    setTimeout(() => process.exit(1), STOP_BACKSTOP_MS).unref();
    stop();
  });
  process.channel?.unref();
}
