import fs from 'node:fs';
import globalSetup from '../../setup/global-setup';
import { CHROMIUM } from '../helpers/browser';

/** Refuses to start without Chromium (no browser is downloaded), then the usual servers. */
export default async function browserGlobalSetup(): Promise<void> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: as root, run "apt-get update && apt-get install -y chromium" (the browser tests use Debian's Chromium).`,
    );
  }
  await globalSetup();
}
