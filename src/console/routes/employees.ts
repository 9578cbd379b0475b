import type Router from '@koa/router';
import { z } from 'zod';
import { TOOL_NAMES } from '../../domain/agent';
import { apiError } from '../../http/errors';
import { InvalidLimitError, type Employee } from '../../stores/employees';
import { EndpointExistsError } from '../../stores/endpoints';
import type { ConsoleDeps } from '../deps';
import { employeePage, employeesPage } from '../pages/employees';
import { signedIn, type ConsoleState, type SignedInState } from '../session';

const optionalInt = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : Number(v)))
  .pipe(z.number().int().positive().max(1_000_000_000).optional());

const NewEmployee = z.object({
  name: z.string().trim().min(1, 'Name is required.').max(100),
  instructions: z
    .string()
    .max(20_000)
    .optional()
    .transform((v) => (v?.trim() ? v.trim() : undefined)),
  model: z
    .string()
    .max(100)
    .optional()
    .transform((v) => (v?.trim() ? v.trim() : undefined)),
  maxSteps: optionalInt.pipe(z.number().max(100).optional()),
  maxTokens: optionalInt,
  deadlineMs: optionalInt,
  maxCredits: optionalInt,
  maxPromptTokens: optionalInt,
  maxToolCallsPerTurn: optionalInt,
  maxToolCalls: optionalInt,
  maxWebhookBytes: optionalInt,
  keepNotes: z
    .string()
    .optional()
    .transform((v) => v === 'on'),
  tools: z
    .union([z.string(), z.array(z.string())])
    .optional()
    .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]))
    .pipe(z.array(z.enum(TOOL_NAMES))),
});

const NewEndpoint = z.object({
  name: z.string().trim().min(1, 'Name is required.').max(64),
  url: z
    .string()
    .trim()
    .pipe(z.url({ protocol: /^https?$/, error: 'must be an http or https URL' })),
});

/** Inbox entries on an employee's page, newest first. */
const INBOX_SHOWN = 20;

/** The account's employee by id; another account's is 404, exactly like an unknown one. */
export async function ownEmployee(deps: ConsoleDeps, accountId: string, id: string): Promise<Employee> {
  const employee = await deps.employees.getEmployee(id);
  if (!employee || employee.accountId !== accountId) throw apiError(404, 'EMPLOYEE_NOT_FOUND', 'No such employee.');
  return employee;
}

/** Employees: the list, "New employee", and each one's page with its ID and curl. */
export function employeePages(router: Router<ConsoleState>, deps: ConsoleDeps): void {
  router.get<SignedInState>('/employees', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    ctx.type = 'html';
    ctx.body = employeesPage(session, await deps.employees.listEmployees(session.account.id)).text;
  });

  router.post<SignedInState>('/employees', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const parsed = NewEmployee.safeParse(ctx.request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = employeesPage(session, await deps.employees.listEmployees(session.account.id), `${String(issue.path[0] ?? '')}: ${issue.message}`).text;
      return;
    }
    const { name, instructions, model, tools, ...limits } = parsed.data;
    const created = await deps.employees.createEmployee({ accountId: session.account.id, name, instructions, model });
    try {
      await deps.employees.updateLimits(created.id, limits);
    } catch (err) {
      if (!(err instanceof InvalidLimitError)) throw err;
      ctx.status = 400;
      ctx.type = 'html';
      ctx.body = employeePage(session, created, deps.publicUrl, { endpoints: [], error: err.message }).text;
      return;
    }
    if (tools.length > 0) await deps.employees.setTools(created.id, { enable: tools });
    ctx.redirect(`/employees/${created.id}`);
  });

  router.get<SignedInState>('/employees/:id', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const employee = await ownEmployee(deps, session.account.id, ctx.params.id);
    ctx.type = 'html';
    const [endpoints, notes, inbox, memory] = await Promise.all([
      deps.endpoints.list(employee.id),
      deps.memory.notes(employee.id),
      deps.memory.inbox(employee.id, INBOX_SHOWN),
      deps.memory.memory(employee.id, 1_000),
    ]);
    ctx.body = employeePage(session, employee, deps.publicUrl, { endpoints, notes, inbox, memoryTurns: memory.length }).text;
  });

  // "Clear": the owner forgets what the employee kept; its inbox stays (it is the owner's record).
  for (const what of ['notes', 'memory'] as const) {
    router.post<SignedInState>(`/employees/:id/${what}/clear`, signedIn(), async (ctx) => {
      const employee = await ownEmployee(deps, ctx.state.session.account.id, ctx.params.id);
      await (what === 'notes' ? deps.memory.clearNotes(employee.id) : deps.memory.clearMemory(employee.id));
      ctx.redirect(`/employees/${employee.id}`);
    });
  }

  // The signing secret is rendered once, in the answer to this POST.
  router.post<SignedInState>('/employees/:id/endpoints', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const employee = await ownEmployee(deps, session.account.id, ctx.params.id);
    const parsed = NewEndpoint.safeParse(ctx.request.body);
    let result: { created?: { name: string; secret: string }; error?: string };
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      result = { error: `${String(issue.path[0] ?? '')}: ${issue.message}` };
    } else {
      try {
        const { endpoint, secret } = await deps.endpoints.add({ employeeId: employee.id, name: parsed.data.name, url: parsed.data.url });
        result = { created: { name: endpoint.name, secret } };
      } catch (err) {
        if (!(err instanceof EndpointExistsError)) throw err;
        result = { error: `An endpoint named ${parsed.data.name} already exists.` };
      }
    }
    ctx.status = result.created ? 201 : 400;
    ctx.type = 'html';
    ctx.body = employeePage(session, employee, deps.publicUrl, { endpoints: await deps.endpoints.list(employee.id), ...result }).text;
  });
}
