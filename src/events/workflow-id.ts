import { sha256Hex } from '../shared/hash';

/** Keys short and plain enough to read in the Temporal UI are used as they are; others are hashed. */
const READABLE_KEY = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The Temporal workflow id of one event. Scoped by account, so two accounts may use the same key:
 * - `webhook/<account_id>/key/<Idempotency-Key>` for a short key of letters, digits and `. _ : -`;
 * - `webhook/<account_id>/key-sha256/<hex sha256 of the key>` for any other key;
 * - `webhook/<account_id>/msg/<message_id>` without a key.
 * The prefixes differ, so a readable key can never collide with a hashed one.
 */
export function eventWorkflowId(accountId: string, messageId: string, idempotencyKey?: string): string {
  if (idempotencyKey === undefined) return `webhook/${accountId}/msg/${messageId}`;
  if (READABLE_KEY.test(idempotencyKey)) return `webhook/${accountId}/key/${idempotencyKey}`;
  return `webhook/${accountId}/key-sha256/${sha256Hex(idempotencyKey)}`;
}

/** The workflow id of an employee's queue (ordered mode): one per employee, fed by signalWithStart. */
export function employeeQueueWorkflowId(accountId: string, employeeId: string): string {
  return `employee-queue/${accountId}/${employeeId}`;
}
