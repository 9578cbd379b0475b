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
  created_at: Date;
}

const toEndpoint = (row: EndpointRow): Endpoint => ({
  id: row.id,
  employeeId: row.employee_id,
  name: row.name,
  url: row.url,
  allowPrivate: row.allow_private,
  createdAt: row.created_at.toISOString(),
});

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function generateSigningSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

const insertEndpoint = statement<{ id: string; employeeId: string; name: string; url: string; secret: string; allowPrivate: boolean }, EndpointRow>(
  'endpoints_insert',
  `INSERT INTO endpoints (id, employee_id, name, url, signing_secret, allow_private)
   SELECT :id, id, :name, :url, :secret, :allowPrivate FROM employees WHERE id = :employeeId
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

const deleteEndpoint = statement<{ id: string }, EndpointRow>('endpoints_delete', `DELETE FROM endpoints WHERE id = :id RETURNING *`);

export class EndpointExistsError extends Error {}

/** Where an employee's `send_webhook` may deliver, by name, and the secrets deliveries are signed with. */
export class EndpointStore {
  constructor(private readonly db: pg.Pool) {}

  /** Returns the secret this once: it is never listed again. */
  async add(input: { employeeId: string; name: string; url: string; allowPrivate?: boolean }): Promise<{ endpoint: Endpoint; secret: string }> {
    if (!isUuid(input.employeeId)) throw new NotFoundError('employee', input.employeeId);
    const secret = generateSigningSecret();
    const [row] = await insertEndpoint.run(this.db, {
      id: randomUUID(),
      employeeId: input.employeeId,
      name: input.name,
      url: input.url,
      secret,
      allowPrivate: input.allowPrivate ?? false,
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

  async remove(id: string): Promise<Endpoint> {
    const [row] = isUuid(id) ? await deleteEndpoint.run(this.db, { id }) : [];
    if (!row) throw new NotFoundError('endpoint', id);
    return toEndpoint(row);
  }
}
