import fs from 'node:fs';
import path from 'node:path';
import type Router from '@koa/router';

/** The console's static files: its stylesheet and script (beside this file), and htmx from node_modules. */
const FILES: Record<string, { file: string; type: string }> = {
  'console.css': { file: path.join(__dirname, 'assets', 'console.css'), type: 'text/css; charset=utf-8' },
  'console.js': { file: path.join(__dirname, 'assets', 'console.js'), type: 'text/javascript; charset=utf-8' },
  'htmx.min.js': { file: require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript; charset=utf-8' },
};

/** GET /assets/<name>, read once at start-up; a missing file stops the process there, not at the first page. */
export function assetRoutes<S>(router: Router<S>): void {
  const loaded = new Map(Object.entries(FILES).map(([name, { file, type }]) => [name, { body: fs.readFileSync(file), type }]));
  router.get('/assets/:name', async (ctx) => {
    const asset = loaded.get(ctx.params.name);
    if (!asset) return;
    ctx.type = asset.type;
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.body = asset.body;
  });
}
