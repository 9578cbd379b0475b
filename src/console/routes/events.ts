import type Router from '@koa/router';
import { apiError } from '../../http/errors';
import type { ConsoleDeps } from '../deps';
import { EVENT_STATUSES, type ConsoleEventStatus } from '../data';
import { eventPage, eventRow, eventsPage, eventStatusPanel, type EventFilterForm } from '../pages/events';
import { signedIn, type ConsoleState, type SignedInState } from '../session';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/** Events: the list with its filters, each event's page, and the fragments that poll while it runs. */
export function eventPages(router: Router<ConsoleState>, deps: ConsoleDeps): void {
  router.get<SignedInState>('/events', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const q = ctx.query;
    const form: EventFilterForm = { employee: text(q.employee), label: text(q.label), status: text(q.status), from: text(q.from), to: text(q.to) };
    const status = EVENT_STATUSES.includes(form.status as ConsoleEventStatus) ? (form.status as ConsoleEventStatus) : undefined;
    const [employees, items] = await Promise.all([
      deps.employees.listEmployees(session.account.id),
      deps.events.list(session.account.id, {
        employeeId: form.employee,
        event: form.label,
        status,
        from: form.from && DATE.test(form.from) ? new Date(`${form.from}T00:00:00Z`) : undefined,
        to: form.to && DATE.test(form.to) ? new Date(`${form.to}T00:00:00Z`) : undefined,
      }),
    ]);
    ctx.type = 'html';
    ctx.body = eventsPage(session, items, employees, form).text;
  });

  const view = async (accountId: string, id: string) => {
    const found = await deps.events.get(accountId, id);
    if (!found) throw apiError(404, 'MESSAGE_NOT_FOUND', 'No such event.');
    return found;
  };

  router.get<SignedInState>('/events/:id', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const event = await view(session.account.id, ctx.params.id);
    const employee = await deps.employees.getEmployee(event.employee_id);
    ctx.type = 'html';
    ctx.body = eventPage(session, event, employee?.accountId === session.account.id ? employee.name : event.employee_id).text;
  });

  router.get<SignedInState>('/events/:id/panel', signedIn(), async (ctx) => {
    ctx.type = 'html';
    ctx.body = eventStatusPanel(await view(ctx.state.session.account.id, ctx.params.id)).text;
  });

  router.get<SignedInState>('/events/:id/row', signedIn(), async (ctx) => {
    const { session } = ctx.state;
    const event = await view(session.account.id, ctx.params.id);
    const employee = await deps.employees.getEmployee(event.employee_id);
    const item = {
      messageId: event.message_id,
      employeeId: event.employee_id,
      event: event.event ?? undefined,
      receivedAt: new Date(event.received_at),
      status: event.status,
      credits: event.credits,
    };
    ctx.type = 'html';
    ctx.body = eventRow(item, employee?.accountId === session.account.id ? employee.name : event.employee_id).text;
  });
}
