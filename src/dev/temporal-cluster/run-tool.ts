import { execFile } from 'node:child_process';
import path from 'node:path';

/** Runs a tool to its end; rejects with its command line and everything it printed. */
export function run(file: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`.trim()));
      else resolve(`${stdout}${stderr}`);
    });
  });
}
