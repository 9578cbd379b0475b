import fs from 'node:fs';
import path from 'node:path';
import { Config, parseConfig } from '../../src/config';

const text = fs.readFileSync(path.resolve(__dirname, '../../.env.example'), 'utf8');
const listed = new Map(
  text
    .split('\n')
    .filter((line) => /^[A-Z0-9_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as const),
);

describe('.env.example', () => {
  it('lists every variable the config schema reads (but the one it refuses)', () => {
    const expected = Object.keys(Config.shape).filter((name) => name !== 'CREDITS_PER_1K_TOKENS');
    expect([...listed.keys()].sort()).toEqual(expected.sort());
  });

  it('parses as it stands: a copied .env.example is a valid configuration', () => {
    expect(() => parseConfig(Object.fromEntries(listed))).not.toThrow();
  });
});
