import { Command, CommanderError } from 'commander';
import { registerAccountCommands } from './accounts';
import { registerBillingCommands } from './billing';
import { registerCreditCommands } from './credits';
import { registerEmployeeCommands } from './employees';
import { registerEndpointCommands } from './endpoints';
import { registerEventCommands } from './events';
import { registerKeyCommands } from './keys';
import { registerSourceCommands } from './sources';
import { CliError, printError } from './output';

/** The operator CLI: accounts, channels, employees, API keys, credits and billing, on the service's own Redis. */
export function buildProgram(): Command {
  const program = new Command('sistava')
    .description(
      'Operate the Sistava webhook service: accounts, employees, API keys, credits, billing. Reads REDIS_URL (and TEMPORAL_ADDRESS for billing reconcile) like the service.',
    )
    // Set before the subcommands exist so they inherit it: main() decides exit codes and --json errors.
    .exitOverride();
  registerAccountCommands(program);
  registerEmployeeCommands(program);
  registerEndpointCommands(program);
  registerKeyCommands(program);
  registerSourceCommands(program);
  registerCreditCommands(program);
  registerBillingCommands(program);
  registerEventCommands(program);
  return program;
}

/**
 * Runs one command. Exit codes: 0 done, 1 the command failed (unknown id, Redis down),
 * 2 the command line was wrong (commander's message is already on stderr).
 */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    if (err.exitCode === 0) return; // --help
    // Parse errors happen before options are collected, so look for --json in the raw arguments.
    const json = argv.includes('--json');
    const code = err.code === 'commander.invalidArgument' ? 'INVALID_ARGUMENT' : 'USAGE';
    const message = err.code === 'commander.help' ? 'A command is required; see --help.' : err.message.replace(/^error: /, '');
    printError(new CliError(code, message, 2), json, true);
    process.exitCode = 2;
  }
}

if (require.main === module) {
  main(process.argv).catch((err: unknown) => {
    process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
