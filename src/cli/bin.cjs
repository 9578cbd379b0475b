#!/usr/bin/env node
'use strict';
// The CLI ships as TypeScript, run in place like `npm run cli`: tsx's CommonJS hook compiles
// main.ts (and everything it imports) on require, so there is no build step to forget.
require('tsx/cjs/api').register();
require('./main.ts')
  .main(process.argv)
  .catch((err) => {
    process.stderr.write(`error: ${(err && err.stack) || String(err)}\n`);
    process.exitCode = 1;
  });
