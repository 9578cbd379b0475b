import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { isUuid, NotFoundError } from './accounts';
import { statement } from './postgres/statement';

/** An outbound endpoint as listed: never its secret. */
export interface Endpoint {
  id: string;
  employeeId: string;
  name: string;
  url: string;
  allowPrivate: boolean;
  /** Deliveries a minute; undefined: the service's default (ENDPOINT_PER_MINUTE). */
  perMinute?: number;
  /** A JSON Schema every body sent here must match; undefined: any JSON object. */
  bodySchema?: Record<string, unknown>;
  createdAt: string;
}

/** What `send_webhook` needs to deliver: the endpoint and the secret it signs with. */
export interface SigningEndpoint extends Endpoint {
  secret: string;
}

interface EndpointRow {
  id: string;
  employee_id: string;
  name: string;
  url: string;
  signing_secret: string;
  allow_private: boolean;
  per_minute: number | null;
  body_schema: Record<string, unknown> | null;
  created_at: Date;
}

const toEndpoint = (row: EndpointRow): Endpoint => ({
  id: row.id,
  employeeId: row.employee_id,
  name: row.name,
  url: row.url,
  allowPrivate: row.allow_private,
  ...(row.per_minute !== null ? { perMinute: row.per_minute } : {}),
  ...(row.body_schema !== null ? { bodySchema: row.body_schema } : {}),
  createdAt: row.created_at.toISOString(),
});

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

const insertEndpoint = statement<
  { id: string; employeeId: string; name: string; url: string; secret: string; allowPrivate: boolean; perMinute?: number; bodySchema?: string },
  EndpointRow
>(
  'endpoints_insert',
  `INSERT INTO endpoints (id, employee_id, name, url, signing_secret, allow_private, per_minute, body_schema)
   SELECT :id, id, :name, :url, :secret, :allowPrivate, :perMinute, :bodySchema::jsonb FROM employees WHERE id = :employeeId
   ON CONFLICT (employee_id, name) DO NOTHING
   RETURNING *`,
);

const selectOfEmployee = statement<{ employeeId: string }, EndpointRow>(
  'endpoints_of_employee',
  `SELECT * FROM endpoints WHERE employee_id = :employeeId ORDER BY name`,
);

const selectByName = statement<{ employeeId: string; name: string }, EndpointRow>(
  'endpoints_by_name',
  `SELECT * FROM endpoints WHERE employee_id = :employeeId AND name = :name`,
);

/**
 * Counts one delivery in the endpoint's current minute, or refuses when the minute is full. A fixed
 * window kept in the endpoint's row: concurrent deliveries serialise on the row, and the WHERE is
 * checked again on the row each one finds, so the count never passes the limit.
 */
const claimDelivery = statement<{ id: string; defaultPerMinute: number }, { deliveries: number }>(
  'endpoints_claim_delivery',
  `UPDATE endpoints SET
     window_started_at = CASE WHEN window_started_at IS NULL OR window_started_at <= now() - interval '1 minute' THEN now() ELSE window_started_at END,
     window_deliveries = CASE WHEN window_started_at IS NULL OR window_started_at <= now() - interval '1 minute' THEN 1 ELSE window_deliveries + 1 END
   WHERE id = :id
     AND (window_started_at IS NULL OR window_started_at <= now() - interval '1 minute' OR window_deliveries < coalesce(per_minute, :defaultPerMinute))
   RETURNING window_deliveries AS deliveries`,
);

const deleteEndpoint = statement<{ id: string }, EndpointRow>('endpoints_delete', `DELETE FROM endpoints WHERE id = :id RETURNING *`);

export class EndpointExistsError extends Error {}

/** Where an employee's `send_webhook` may deliver, by name, and the secrets deliveries are signed with. */
export class EndpointStore {
  constructor(private readonly db: pg.Pool) {}

  /** Returns the secret this once: it is never listed again. */
  async add(input: {
    employeeId: string;
    name: string;
    url: string;
    allowPrivate?: boolean;
    perMinute?: number;
    bodySchema?: Record<string, unknown>;
  }): Promise<{ endpoint: Endpoint; secret: string }> {
    if (!isUuid(input.employeeId)) throw new NotFoundError('employee', input.employeeId);
    const secret = generateSigningSecret();
    const [row] = await insertEndpoint.run(this.db, {
      id: randomUUID(),
      employeeId: input.employeeId,
      name: input.name,
      url: input.url,
      secret,
      allowPrivate: input.allowPrivate ?? false,
      perMinute: input.perMinute,
      bodySchema: input.bodySchema === undefined ? undefined : JSON.stringify(input.bodySchema),
    });
    if (!row) {
      const [existing] = await selectByName.run(this.db, { employeeId: input.employeeId, name: input.name });
      if (existing) throw new EndpointExistsError(`employee ${input.employeeId} already has an endpoint named ${input.name}`);
      throw new NotFoundError('employee', input.employeeId);
    }
    return { endpoint: toEndpoint(row), secret };
  }

  async list(employeeId: string): Promise<Endpoint[]> {
    if (!isUuid(employeeId)) return [];
    return (await selectOfEmployee.run(this.db, { employeeId })).map(toEndpoint);
  }

  /** For signing a delivery: the only read that returns the secret. */
  async forDelivery(employeeId: string, name: string): Promise<SigningEndpoint | undefined> {
    const [row] = await selectByName.run(this.db, { employeeId, name });
    return row && { ...toEndpoint(row), secret: row.signing_secret };
  }

  /** True when a delivery may go now (and it is counted); false when the endpoint's minute is full. */
  async claimDelivery(id: string, defaultPerMinute: number): Promise<boolean> {
    return (await claimDelivery.run(this.db, { id, defaultPerMinute })).length === 1;
  }

  async remove(id: string): Promise<Endpoint> {
    const [row] = isUuid(id) ? await deleteEndpoint.run(this.db, { id }) : [];
    if (!row) throw new NotFoundError('endpoint', id);
    return toEndpoint(row);
  }
}
