import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { quietBundlerLogger } from './quiet-bundler-logger';
import { FAILURE_CONVERTER_PATH } from './codec';

/**
 * `npm run build` ends here: the workflow bundle is built once, at image build time, so a worker
 * started with WORKFLOW_BUNDLE_PATH skips webpack (seconds of CPU and tens of MB at every start).
 */
async function main(): Promise<void> {
  const out = path.resolve(__dirname, '..', '..', 'workflow-bundle.js');
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: quietBundlerLogger,
  });
  fs.writeFileSync(out, code);
  process.stdout.write(`workflow bundle: ${out} (${Math.round(code.length / 1024)} KB)\n`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`could not bundle workflows: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
