import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import madge from 'madge';

/** The same settings `npm run cycles` (part of `npm test`) reads: type-only imports count. */
const config = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '.madgerc'), 'utf8')) as madge.MadgeConfig;

describe('import cycles', () => {
  it('are found even when every edge of the circle is a type-only import', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cycle-'));
    fs.writeFileSync(path.join(dir, 'a.ts'), "import type { B } from './b';\nexport interface A { b?: B }\n");
    fs.writeFileSync(path.join(dir, 'b.ts'), "import type { A } from './a';\nexport interface B { a?: A }\n");
    const result = await madge(dir, { ...config, tsConfig: undefined });
    expect(result.circular()).toEqual([['a.ts', 'b.ts']]);
  });

  it('form no circle in the project', async () => {
    const root = path.join(__dirname, '..', '..');
    const result = await madge(
      ['src', 'workflows', 'activities', 'bench', 'test'].map((d) => path.join(root, d)),
      { ...config, baseDir: root, tsConfig: path.join(root, 'tsconfig.json') },
    );
    expect(result.circular()).toEqual([]);
  });
});
