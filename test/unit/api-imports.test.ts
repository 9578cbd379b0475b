import path from 'node:path';
import madge from 'madge';

const root = path.join(__dirname, '..', '..');

/** Every module src/api.ts loads at run time (type-only imports are erased by the compiler, so skipped). */
async function runtimeGraph(entry: string): Promise<Record<string, string[]>> {
  const result = await madge(path.join(root, entry), {
    baseDir: root,
    fileExtensions: ['ts'],
    tsConfig: path.join(root, 'tsconfig.json'),
    includeNpm: true,
    detectiveOptions: { ts: { skipTypeImports: true } },
  });
  return result.obj();
}

describe('what the API process loads', () => {
  it('leaves out @temporalio/worker and its native core (the API never polls; about 14 MB of RSS)', async () => {
    const graph = await runtimeGraph('src/api.ts');
    const importers = Object.entries(graph)
      .filter(([, deps]) => deps.some((d) => d.includes('node_modules/@temporalio/worker/')))
      .map(([file]) => file);
    expect(importers).toEqual([]);
    // The check can see the package at all: the worker's graph holds it.
    const worker = await runtimeGraph('src/worker.ts');
    expect(
      Object.values(worker)
        .flat()
        .some((d) => d.includes('node_modules/@temporalio/worker/')),
    ).toBe(true);
  });
});
