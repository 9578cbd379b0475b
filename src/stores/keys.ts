/** Redis key layout, in one place. Per-account keys share a hash tag so they live in one cluster slot. */
export const keys = {
  account: (id: string) => `sv:account:${id}`,
  accountByEmail: (email: string) => `sv:account-email:${email.toLowerCase()}`,
  accountKeys: (id: string) => `sv:{${id}}:keys`,
  accountEmployees: (id: string) => `sv:{${id}}:employees`,
  balance: (id: string) => `sv:{${id}}:balance`,
  ledger: (id: string) => `sv:{${id}}:ledger`,
  /** Credits held for events in flight; the balance minus this is what a new event may reserve. */
  reserved: (id: string) => `sv:{${id}}:reserved`,
  /**
   * Per-message records (charge, reservation, released marker) make the ledger's scripts idempotent.
   * They expire LEDGER_RECORD_TTL_SECONDS after the charge or release that completes them; an open
   * reservation never does. The ledger list, not these, is the record (ledger.ts says why).
   */
  charge: (id: string, messageId: string) => `sv:{${id}}:charge:${messageId}`,
  reservation: (id: string, messageId: string) => `sv:{${id}}:reservation:${messageId}`,
  released: (id: string, messageId: string) => `sv:{${id}}:released:${messageId}`,
  /** Message ids with a reservation not yet released, scored by when it was made (ms). */
  openReservations: (id: string) => `sv:{${id}}:reservations-open`,
  employee: (id: string) => `sv:employee:${id}`,
  inbox: (employeeId: string) => `sv:{emp-${employeeId}}:inbox`,
  memory: (employeeId: string) => `sv:{emp-${employeeId}}:memory`,
  outcome: (employeeId: string, messageId: string) => `sv:{emp-${employeeId}}:outcome:${messageId}`,
  message: (messageId: string) => `sv:msg:${messageId}`,
  apiKey: (hash: string) => `sv:apikey:${hash}`,
  keyRecord: (keyId: string) => `sv:key:${keyId}`,
  idempotency: (accountId: string, keyHash: string) => `sv:{${accountId}}:idem:${keyHash}`,
  rateLimitPrefix: 'sv:rl',
};
