import { execFileSync } from 'node:child_process';

const SETPRIV = '/usr/bin/setpriv';
let supported: boolean | undefined;

/** util-linux's setpriv with `--pdeathsig` (2.33 and later), on Linux. */
function setprivSupportsPdeathsig(): boolean {
  if (supported === undefined) {
    try {
      supported =
        process.platform === 'linux' && execFileSync(SETPRIV, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).includes('--pdeathsig');
    } catch {
      supported = false;
    }
  }
  return supported;
}

/**
 * The command line that runs `command` so that the kernel sends it `signal` when this process dies
 * (PR_SET_PDEATHSIG, set by setpriv, which then execs `command` under the same pid): a stack that is
 * SIGKILLed or crashes, where no handler of ours runs, does not leave its servers holding their ports.
 * Without setpriv (macOS, old util-linux) the command runs as given, and a later stack names the
 * leftover holder of its port instead (src/dev/port-holder.ts).
 */
export function diesWithParent(command: string, args: readonly string[], signal: 'TERM' | 'INT' = 'TERM'): [string, string[]] {
  return setprivSupportsPdeathsig() ? [SETPRIV, ['--pdeathsig', signal, '--', command, ...args]] : [command, [...args]];
}
