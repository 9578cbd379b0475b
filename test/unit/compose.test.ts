import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { Config } from '../../src/config';
import { SEARCH_ATTRIBUTES } from '../../workflows/contract';

/**
 * docker-compose.yml cannot be started where this project is developed (no Docker engine), so its
 * structure is checked here against the code it deploys: the services of the production shape,
 * every variable known to the config schema, the contract's search attributes, pinned images,
 * dependencies that exist, and files that exist.
 */
const ROOT = path.resolve(__dirname, '../..');

interface Service {
  image?: string;
  build?: string;
  command?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  healthcheck?: { test: string[] };
}

const compose = parse(fs.readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;

describe('docker-compose.yml', () => {
  it('runs the production shape: PostgreSQL, Temporal schema, server, init and UI, Redis, migrate, worker and API', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['api', 'migrate', 'postgres', 'redis', 'temporal', 'temporal-init', 'temporal-schema', 'temporal-ui', 'worker'].sort(),
    );
    expect(services.temporal.image).toMatch(/^temporalio\/server:/);
    expect(services['temporal-schema'].image).toMatch(/^temporalio\/admin-tools:/);
    expect(services['temporal-ui'].image).toMatch(/^temporalio\/ui:/);
  });

  it('pins every image to a version', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) continue;
      expect([name, service.image]).toEqual([name, expect.stringMatching(/:\d+\.\d+(\.\d+)?(-[a-z0-9]+)?$/)]);
    }
  });

  it('gives the API and the worker only variables the config schema knows, and the ones they need', () => {
    const known = new Set(Object.keys(Config.shape));
    for (const name of ['api', 'worker', 'migrate']) {
      const env = services[name].environment ?? {};
      for (const variable of Object.keys(env)) expect([name, variable, known.has(variable)]).toEqual([name, variable, true]);
      expect(env).toEqual(expect.objectContaining({ DATABASE_URL: expect.any(String), REDIS_URL: expect.any(String), TEMPORAL_ADDRESS: 'temporal:7233' }));
    }
  });

  it("registers exactly the contract's search attributes, as Keyword", () => {
    const script = String(services['temporal-init'].command);
    const names = /for sa in ([^;]+);/.exec(script)?.[1].trim().split(/\s+/);
    expect(names?.sort()).toEqual(SEARCH_ATTRIBUTES.map((key) => key.name).sort());
    expect(script).toContain('--type Keyword');
  });

  it('sets up both Temporal databases from the versioned PostgreSQL schemas before the server starts', () => {
    const script = String(services['temporal-schema'].command);
    expect(script).toContain('for db in temporal temporal_visibility');
    expect(script).toContain('/etc/temporal/schema/postgresql/v12/$$dir/versioned');
    expect(services.temporal.environment).toEqual(expect.objectContaining({ DB: 'postgres12', POSTGRES_SEEDS: 'postgres' }));
    expect(services.temporal.depends_on?.['temporal-schema']).toEqual({ condition: 'service_completed_successfully' });
  });

  it('starts the API and the worker only after our migration, Redis and the Temporal init', () => {
    for (const name of ['api', 'worker']) {
      expect(services[name].depends_on).toEqual({
        migrate: { condition: 'service_completed_successfully' },
        redis: { condition: 'service_healthy' },
        'temporal-init': { condition: 'service_completed_successfully' },
      });
    }
    expect(services.migrate.command).toEqual(['node', 'dist/src/migrate.js']);
    expect(services.migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
  });

  it('depends only on services that exist, with a health check where it waits for health', () => {
    for (const service of Object.values(services)) {
      for (const [target, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services[target]).toBeDefined();
        if (condition === 'service_healthy') expect(services[target].healthcheck).toBeDefined();
      }
    }
  });

  it('references files that exist, and runs commands the build produces', () => {
    expect(fs.existsSync(path.join(ROOT, 'Dockerfile'))).toBe(true);
    for (const service of Object.values(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('./')) expect([volume, fs.existsSync(path.join(ROOT, source))]).toEqual([volume, true]);
      }
      const command = Array.isArray(service.command) ? service.command : [];
      if (service.build && command[0] === 'node') {
        const entry = command.slice(1).find((word) => !word.startsWith('--'))!;
        const built = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
        expect([entry, fs.existsSync(path.join(ROOT, built))]).toEqual([entry, true]);
      }
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toContain('cp -r src/stores/migrations dist/src/stores/');
  });

  it("runs the API with the same Node flags everywhere: the Dockerfile's CMD, compose and `npm run serve:api` (which the bench reads)", () => {
    const cmd = /^CMD (\[.*\])$/m.exec(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
    const dockerfile = JSON.parse(cmd ?? '[]') as string[];
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const script = pkg.scripts['serve:api'].split(/\s+/);
    expect(dockerfile).toEqual(['node', '--max-semi-space-size=2', '--heap-growing-percent=50', 'dist/src/api.js']);
    expect(services.api.command).toEqual(dockerfile);
    expect(script).toEqual(dockerfile);
  });

  it('builds the image without the dev stacks: src/dev is neither compiled nor shipped, and the build needs nothing from it', () => {
    const build = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as { exclude?: string[] };
    expect(build.exclude).toContain('src/dev');
    expect(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toMatch(/rm -rf src\/dev/);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    const scripts = [...pkg.scripts.build.matchAll(/node (dist\/\S+\.js)/g)].map((m) => m[1].replace(/^dist\//, '').replace(/\.js$/, '.ts'));
    expect(scripts).toEqual(['src/temporal/bundle-workflows.ts']);
    for (const file of scripts) expect(fs.existsSync(path.join(ROOT, file))).toBe(true);
    // Nothing the image compiles imports from src/dev (tsc would pull it back in despite the exclude).
    const shipped = ['src', 'workflows', 'activities']
      .flatMap((dir) => listTs(path.join(ROOT, dir)))
      .filter((f) => !f.includes(`${path.sep}src${path.sep}dev${path.sep}`));
    for (const file of shipped) expect([file, /from '[./]*\/dev\//.test(fs.readFileSync(file, 'utf8'))]).toEqual([file, false]);
  });
});

function listTs(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listTs(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
}
