import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { HmacSettings, SourceKind } from '../sources/kinds';
import type { SecretSealer } from '../sources/secret-sealer';
import { isUuid, NotFoundError } from './accounts';
import { statement } from './postgres/statement';

/** A source as listed: never its secrets. */
export interface Source {
  id: string;
  accountId: string;
  employeeId: string;
  name: string;
  kind: SourceKind;
  settings?: HmacSettings;
  template?: string;
  windowMs: number;
  enabled: boolean;
  /** How many secrets are live: 2 while one is rotated out. */
  secretCount: number;
  createdAt: string;
  lastDeliveryAt?: string;
}

/** What the source route needs to verify a delivery: the source and its secrets, opened. */
export interface VerifyingSource extends Source {
  secrets: string[];
}

interface SourceRow {
  id: string;
  account_id: string;
  employee_id: string;
  name: string;
  kind: SourceKind;
  secrets: string[];
  settings: HmacSettings | Record<string, never>;
  template: string | null;
  window_ms: string;
  enabled: boolean;
  created_at: Date;
  last_delivery_at: Date | null;
}

const toSource = (row: SourceRow): Source => ({
  id: row.id,
  accountId: row.account_id,
  employeeId: row.employee_id,
  name: row.name,
  kind: row.kind,
  ...(row.kind === 'hmac' ? { settings: row.settings as HmacSettings } : {}),
  ...(row.template !== null ? { template: row.template } : {}),
  windowMs: Number(row.window_ms),
  enabled: row.enabled,
  secretCount: row.secrets.length,
  createdAt: row.created_at.toISOString(),
  ...(row.last_delivery_at ? { lastDeliveryAt: row.last_delivery_at.toISOString() } : {}),
});

const insertSource = statement<
  { id: string; employeeId: string; name: string; kind: string; secrets: string[]; settings: string; template?: string; windowMs: number },
  SourceRow
>(
  'sources_insert',
  `INSERT INTO sources (id, account_id, employee_id, name, kind, secrets, settings, template, window_ms)
   SELECT :id, account_id, id, :name, :kind, :secrets::text[], :settings::jsonb, :template, :windowMs FROM employees WHERE id = :employeeId
   ON CONFLICT (employee_id, name) DO NOTHING
   RETURNING *`,
);
const selectSource = statement<{ id: string }, SourceRow>('sources_by_id', `SELECT * FROM sources WHERE id = :id`);
const selectOfEmployee = statement<{ employeeId: string }, SourceRow>(
  'sources_of_employee',
  `SELECT * FROM sources WHERE employee_id = :employeeId ORDER BY name`,
);
const selectByName = statement<{ employeeId: string; name: string }, { id: string }>(
  'sources_by_name',
  `SELECT id FROM sources WHERE employee_id = :employeeId AND name = :name`,
);
/** The new secret first; the newest previous one stays until `keepPrevious` is false (rotation done). */
const updateSecrets = statement<{ id: string; secrets: string[] }, SourceRow>(
  'sources_set_secrets',
  `UPDATE sources SET secrets = :secrets::text[] WHERE id = :id RETURNING *`,
);
const updateEnabled = statement<{ id: string; enabled: boolean }, SourceRow>(
  'sources_set_enabled',
  `UPDATE sources SET enabled = :enabled WHERE id = :id RETURNING *`,
);
const deleteSource = statement<{ id: string }, SourceRow>('sources_delete', `DELETE FROM sources WHERE id = :id RETURNING *`);
const touchSource = statement<{ id: string }>('sources_touch', `UPDATE sources SET last_delivery_at = now() WHERE id = :id`);
const insertBody = statement<{ messageId: string; sourceId: string; contentType?: string; body: string; retentionMs: number }>(
  'source_bodies_insert',
  `INSERT INTO source_bodies (message_id, source_id, content_type, body, expires_at)
   VALUES (:messageId, :sourceId, :contentType, :body, now() + make_interval(secs => :retentionMs::double precision / 1000))
   ON CONFLICT (message_id) DO NOTHING`,
);
const selectBody = statement<{ messageId: string }, { source_id: string; content_type: string | null; body: string }>(
  'source_bodies_by_message',
  `SELECT source_id, content_type, body FROM source_bodies WHERE message_id = :messageId AND expires_at > now()`,
);
const pruneBodies = statement<{ limit: number }, { pruned: number }>(
  'source_bodies_prune',
  `WITH gone AS (
     DELETE FROM source_bodies WHERE message_id IN (SELECT message_id FROM source_bodies WHERE expires_at < now() LIMIT :limit)
     RETURNING 1
   ) SELECT count(*)::int AS pruned FROM gone`,
);

export class SourceExistsError extends Error {}

export interface NewSource {
  employeeId: string;
  name: string;
  kind: SourceKind;
  secret: string;
  settings?: HmacSettings;
  template?: string;
  windowMs: number;
}

/**
 * Signed sources and the bodies they delivered. Secrets and bodies are sealed with the row's id
 * (secrets) or the message id (bodies) as context, through the SecretSealer the caller wires.
 */
export class SourceStore {
  constructor(
    private readonly db: pg.Pool,
    private readonly sealer: SecretSealer,
  ) {}

  async add(input: NewSource): Promise<Source> {
    if (!isUuid(input.employeeId)) throw new NotFoundError('employee', input.employeeId);
    const id = randomUUID();
    const [row] = await insertSource.run(this.db, {
      id,
      employeeId: input.employeeId,
      name: input.name,
      kind: input.kind,
      secrets: [this.sealer.seal(input.secret, id)],
      settings: JSON.stringify(input.settings ?? {}),
      template: input.template,
      windowMs: input.windowMs,
    });
    if (!row) {
      const [existing] = await selectByName.run(this.db, { employeeId: input.employeeId, name: input.name });
      if (existing) throw new SourceExistsError(`employee ${input.employeeId} already has a source named ${input.name}`);
      throw new NotFoundError('employee', input.employeeId);
    }
    return toSource(row);
  }

  async list(employeeId: string): Promise<Source[]> {
    if (!isUuid(employeeId)) return [];
    return (await selectOfEmployee.run(this.db, { employeeId })).map(toSource);
  }

  async get(id: string): Promise<Source | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await selectSource.run(this.db, { id });
    return row && toSource(row);
  }

  /** For verifying a delivery: the only read that opens the secrets. */
  async forVerifying(id: string): Promise<VerifyingSource | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await selectSource.run(this.db, { id });
    return row && { ...toSource(row), secrets: row.secrets.map((s) => this.sealer.open(s, row.id)) };
  }

  /**
   * Puts `secret` first; the newest previous secret stays valid (a sender switching over keeps
   * verifying) unless `dropPrevious`, which ends the rotation.
   */
  async rotateSecret(id: string, secret: string | undefined, dropPrevious: boolean): Promise<Source> {
    if (!isUuid(id)) throw new NotFoundError('source', id);
    const [row] = await selectSource.run(this.db, { id });
    if (!row) throw new NotFoundError('source', id);
    const secrets = secret === undefined ? [row.secrets[0]] : [this.sealer.seal(secret, id), ...(dropPrevious ? [] : [row.secrets[0]])];
    const [updated] = await updateSecrets.run(this.db, { id, secrets });
    if (!updated) throw new NotFoundError('source', id);
    return toSource(updated);
  }

  async setEnabled(id: string, enabled: boolean): Promise<Source> {
    const [row] = isUuid(id) ? await updateEnabled.run(this.db, { id, enabled }) : [];
    if (!row) throw new NotFoundError('source', id);
    return toSource(row);
  }

  async remove(id: string): Promise<Source> {
    const [row] = isUuid(id) ? await deleteSource.run(this.db, { id }) : [];
    if (!row) throw new NotFoundError('source', id);
    return toSource(row);
  }

  async touch(id: string): Promise<void> {
    await touchSource.run(this.db, { id });
  }

  /** Keeps a delivery's original body (sealed) for `retentionMs`, so it can be rendered again. */
  async keepBody(messageId: string, sourceId: string, body: string, contentType: string | undefined, retentionMs: number): Promise<void> {
    await insertBody.run(this.db, { messageId, sourceId, contentType, body: this.sealer.seal(body, messageId), retentionMs });
  }

  /** A kept body while its retention lasts. */
  async body(messageId: string): Promise<{ sourceId: string; contentType?: string; body: string } | undefined> {
    const [row] = await selectBody.run(this.db, { messageId });
    return row && { sourceId: row.source_id, contentType: row.content_type ?? undefined, body: this.sealer.open(row.body, messageId) };
  }

  /** Deletes up to `limit` bodies past their retention; the API calls it in the background. */
  async pruneBodies(limit = 1_000): Promise<number> {
    const [row] = await pruneBodies.run(this.db, { limit });
    return row.pruned;
  }
}
