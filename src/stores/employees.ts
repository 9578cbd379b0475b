import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { isUuid, NotFoundError } from './accounts';
import { statement } from './postgres/statement';

export interface Employee {
  id: string;
  accountId: string;
  name: string;
  instructions: string;
  model?: string;
  createdAt: string;
}

interface EmployeeRow {
  id: string;
  account_id: string;
  name: string;
  instructions: string;
  model: string | null;
  created_at: Date;
}

function toEmployee(row: EmployeeRow): Employee {
  return {
    id: row.id,
    accountId: row.account_id,
    name: row.name,
    instructions: row.instructions,
    model: row.model ?? undefined,
    createdAt: row.created_at.toISOString(),
  };
}

/** NULL when the account does not exist (the foreign key would refuse it anyway). */
const insertEmployee = statement<{ id: string; accountId: string; name: string; instructions: string; model?: string }, EmployeeRow>(
  'employees_insert',
  `INSERT INTO employees (id, account_id, name, instructions, model)
   SELECT :id, id, :name, :instructions, :model FROM accounts WHERE id = :accountId
   RETURNING *`,
);

const selectEmployee = statement<{ id: string }, EmployeeRow>('employees_select', `SELECT * FROM employees WHERE id = :id`);

const selectEmployeesOfAccount = statement<{ accountId: string }, EmployeeRow>(
  'employees_of_account',
  `SELECT * FROM employees WHERE account_id = :accountId ORDER BY created_at, id`,
);

const deleteEmployee = statement<{ id: string }, { id: string }>('employees_delete', `DELETE FROM employees WHERE id = :id RETURNING id`);

/** An account's AI employees: their instructions and model. */
export class EmployeeStore {
  constructor(private readonly db: pg.Pool) {}

  async createEmployee(input: { accountId: string; name: string; instructions?: string; model?: string }): Promise<Employee> {
    const [row] = isUuid(input.accountId)
      ? await insertEmployee.run(this.db, {
          id: randomUUID(),
          accountId: input.accountId,
          name: input.name,
          instructions: input.instructions ?? `You are ${input.name}, an AI employee. Act on incoming events.`,
          model: input.model,
        })
      : [];
    if (!row) throw new NotFoundError('account', input.accountId);
    return toEmployee(row);
  }

  async getEmployee(id: string): Promise<Employee | undefined> {
    if (!isUuid(id)) return undefined;
    const [row] = await selectEmployee.run(this.db, { id });
    return row && toEmployee(row);
  }

  /** An account's employees, oldest first. */
  async listEmployees(accountId: string): Promise<Employee[]> {
    if (!isUuid(accountId)) return [];
    return (await selectEmployeesOfAccount.run(this.db, { accountId })).map(toEmployee);
  }

  /** The employee's inbox, memory and ledger entries stay: they are history. */
  async deleteEmployee(id: string): Promise<void> {
    const [row] = isUuid(id) ? await deleteEmployee.run(this.db, { id }) : [];
    if (!row) throw new NotFoundError('employee', id);
  }
}
