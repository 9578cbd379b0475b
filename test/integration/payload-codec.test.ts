import { randomBytes, randomUUID } from 'node:crypto';
import { Client, type Connection } from '@temporalio/client';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { NativeConnection, Worker } from '@temporalio/worker';
import type pg from 'pg';
import request from 'supertest';
import { eventWorkflowId } from '../../src/events/workflow-id';
import { buildApi } from '../../src/api';
import { codecEndpoint } from '../../src/http/routes/codec';
import { createLogger } from '../../src/observability/logger';
import { appDatabaseUrl } from '../../src/stores/postgres/app-role';
import { createPool } from '../../src/stores/postgres/pool';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA, payloadCodec, temporalDataConverter } from '../../src/temporal/codec';
import { connectTemporal } from '../../src/temporal/connect';
import { connectTemporalNative } from '../../src/temporal/connect-native';
import { createWorker } from '../../src/temporal/create-worker';
import { codecApp } from '../helpers/codec-app';
import { startFakeModelServer, type FakeModelServer } from '../helpers/fake-model-server';
import { createHarness, eventually, type Harness } from '../helpers/harness';
import { historyToJson } from '../helpers/history-json';

/**
 * A client (the API's ingest) and a worker that share the encrypting data converter, one event end to
 * end over HTTP: what Temporal stores holds neither the event's payload nor the employee's reply, and
 * the codec endpoint gives them back to an operator with the token.
 */
const TOKEN = randomBytes(32).toString('base64');
const UI = 'http://temporal-ui.example.test:8080';
const KEYS = `k2:${randomBytes(32).toString('base64')},k1:${randomBytes(32).toString('base64')}`;

let fake: FakeModelServer;
let h: Harness;
let connection: Connection;
let client: Client;
let nativeConnection: NativeConnection;
let workerDb: pg.Pool;
let worker: Worker;
let running: Promise<void>;
let raw: Client;
let api: ReturnType<typeof request>;
let codecHttp: ReturnType<typeof request>;

beforeAll(async () => {
  fake = await startFakeModelServer();
  const overrides = { OPENAI_BASE_URL: fake.baseURL, OPENAI_MODEL: 'test-model', PAYLOAD_KEYS: KEYS, CODEC_AUTH_TOKEN: TOKEN, TEMPORAL_UI_URL: `${UI}/` };
  h = await createHarness(overrides, { worker: false });
  const config = h.config;
  const logger = createLogger(config, 'test-codec');
  const dataConverter = temporalDataConverter(config);

  connection = await connectTemporal(config);
  client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter });
  // A client without the codec: what anyone reading the database or the history without the keys sees.
  raw = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  api = request(buildApi(config, { db: h.db, redis: h.redis, connection }, logger).callback());
  codecHttp = request(codecApp(codecEndpoint(config)).callback());

  nativeConnection = await connectTemporalNative(config);
  workerDb = createPool(appDatabaseUrl(config), { name: 'test-codec-worker' });
  worker = await createWorker(config, nativeConnection, workerDb, logger, { shutdownGraceTime: '1s', dataConverter });
  running = worker.run();
});

afterAll(async () => {
  if (worker) {
    worker.shutdown();
    await running;
  }
  await nativeConnection?.close();
  await workerDb?.end();
  await connection?.close();
  await h?.close();
  await fake?.close();
});

type JsonPayload = { metadata?: Record<string, string>; data?: string };
type Found = { path: string; payload: JsonPayload };

/** Every payload in a proto-JSON history, with where it sits (payloads always carry an `encoding`). */
function payloadsIn(value: unknown, path = ''): Found[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => payloadsIn(v, `${path}[${i}]`));
  if (!value || typeof value !== 'object') return [];
  const obj = value as Record<string, unknown>;
  const metadata = obj.metadata as Record<string, unknown> | undefined;
  if (metadata && typeof metadata === 'object' && typeof metadata[METADATA_ENCODING_KEY] === 'string') return [{ path, payload: obj }];
  return Object.entries(obj).flatMap(([k, v]) => payloadsIn(v, path ? `${path}.${k}` : k));
}

/** A codec response's payloads (supertest bodies are untyped). */
const payloadsOf = (res: { body: unknown }) => (res.body as { payloads?: JsonPayload[] }).payloads;

const fromJson = ({ metadata, data }: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(data ?? '', 'base64'),
});
const asText = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');

/** A history with every payload's metadata and data shown as text, so a search sees what they hold. */
function readable(json: unknown): string {
  return JSON.stringify(
    payloadsIn(json).map(({ path, payload }) => ({
      path,
      metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, asText(v)])),
      data: asText(payload.data),
    })),
  );
}

async function sendEvent(payload: string, reply: string) {
  const acct = await h.seedAccount({ credits: 1000 });
  fake.enqueue({ kind: 'ok', reply, promptTokens: 10, completionTokens: 5 });
  const res = await api.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, event: 'order.completed', payload });
  expect(res.status).toBe(202);
  const messageId = (res.body as { message_id: string }).message_id;
  const workflowId = eventWorkflowId(acct.accountId, messageId);
  const result: unknown = await client.workflow.getHandle(workflowId).result();
  expect(result).toMatchObject({ messageId, status: 'completed' });
  return { acct, messageId, workflowId };
}

describe('payloads in Temporal histories are encrypted', () => {
  it('stores neither the event payload nor the reply in plain text; decoded with the codec, both are there', async () => {
    const secret = `Customer ${randomUUID()} ordered a sofa`;
    const reply = `Sofa order ${randomUUID()} noted`;
    const { messageId, workflowId } = await sendEvent(secret, reply);
    // The employee really got the payload and answered: the plain text existed on both ends.
    expect(JSON.stringify(fake.requests.at(-1)?.body.messages)).toContain(secret);

    const history = await raw.workflow.getHandle(workflowId).fetchHistory();
    const json = historyToJson(history);
    const bytes = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
    for (const text of [secret, reply]) {
      expect(JSON.stringify(json)).not.toContain(text);
      expect(readable(json)).not.toContain(text);
      expect(bytes.includes(Buffer.from(text))).toBe(false);
    }

    // Every payload our code wrote is encrypted under the current key; only the search attributes
    // (never encoded by codecs, and holding ids, not content) and the markers Core writes itself
    // (local-activity type and timing, patch ids) stay plain.
    const found = payloadsIn(json);
    const plain = found.filter(({ payload }) => asText(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING);
    expect(plain.filter(({ path }) => !/searchAttributes\.indexedFields\.|markerRecordedEventAttributes\.details\.(data|patch-data)\./.test(path))).toEqual([]);
    const encrypted = found.filter(({ payload }) => asText(payload.metadata?.[METADATA_ENCODING_KEY]) === ENCRYPTED_ENCODING);
    const paths = encrypted.map(({ path }) => path.replace(/^events\[\d+\]\./, ''));
    for (const expected of [
      'workflowExecutionStartedEventAttributes.input.payloads[0]',
      'workflowExecutionStartedEventAttributes.memo.fields.messageId',
      'userMetadata.summary',
      'activityTaskCompletedEventAttributes.result.payloads[0]',
      'workflowExecutionCompletedEventAttributes.result.payloads[0]',
    ]) {
      expect(paths).toContain(expected);
    }
    expect(new Set(encrypted.map(({ payload }) => asText(payload.metadata?.[KEY_ID_METADATA])))).toEqual(new Set(['k2']));

    // The positive control: the same history decoded with the codec holds both texts.
    const codec = payloadCodec(h.config)!;
    // (Only the encrypted ones: the codec refuses plaintext, and the plain ones hold no content, as checked above.)
    const decoded = await Promise.all(encrypted.map(async ({ path, payload }) => ({ path, payload: (await codec.decode([fromJson(payload)]))[0] })));
    const decodedText = JSON.stringify(decoded.map(({ path, payload }) => ({ path, data: Buffer.from(payload.data ?? new Uint8Array()).toString('utf8') })));
    expect(decodedText).toContain(secret);
    expect(decodedText).toContain(reply);

    // Memos are encrypted too: a client without the codec cannot even describe the run, one with it reads the memo.
    await expect(raw.workflow.getHandle(workflowId).describe()).rejects.toThrow(/binary\/encrypted/);
    expect((await client.workflow.getHandle(workflowId).describe()).memo).toMatchObject({ messageId });
  });

  it('the codec endpoint decodes payloads taken from that history for a caller with the token, from the UI origin', async () => {
    const secret = `Invoice ${randomUUID()} is overdue`;
    const reply = `Reminder ${randomUUID()} sent`;
    const { workflowId } = await sendEvent(secret, reply);
    const json = historyToJson(await raw.workflow.getHandle(workflowId).fetchHistory()) as {
      events: Record<string, { input?: unknown; result?: unknown }>[];
    };
    const started = json.events[0].workflowExecutionStartedEventAttributes?.input as { payloads: JsonPayload[] };
    expect(started.payloads).toHaveLength(1);
    expect(asText(started.payloads[0].metadata?.[METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);

    const res = await codecHttp
      .post('/codec/decode')
      .set({ Authorization: `Bearer ${TOKEN}`, Origin: UI, 'X-Namespace': h.config.TEMPORAL_NAMESPACE })
      .send({ payloads: started.payloads });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(payloadsOf(res)).toHaveLength(1);
    expect(asText(payloadsOf(res)![0].metadata?.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(fromJson(payloadsOf(res)![0]))).toMatchObject({ payload: secret, event: 'order.completed' });

    // Every activity result in the history, decoded in one request: the employee's reply is among them.
    const results = json.events.flatMap((e) => (e.activityTaskCompletedEventAttributes?.result as { payloads?: JsonPayload[] })?.payloads ?? []);
    expect(results.length).toBeGreaterThan(0);
    const all = await codecHttp
      .post('/codec/decode')
      .set({ Authorization: `Bearer ${TOKEN}`, Origin: UI })
      .send({ payloads: results });
    expect(all.status).toBe(200);
    expect(
      payloadsOf(all)!
        .map((p) => asText(p.data))
        .join('\n'),
    ).toContain(reply);
  });

  it('the codec endpoint refuses a caller without the token, and answers the UI preflight with CORS headers', async () => {
    const { workflowId } = await sendEvent(`Parcel ${randomUUID()}`, `ok ${randomUUID()}`);
    const json = historyToJson(await raw.workflow.getHandle(workflowId).fetchHistory()) as {
      events: Record<string, { input?: { payloads: JsonPayload[] } }>[];
    };
    const payloads = json.events[0].workflowExecutionStartedEventAttributes?.input?.payloads;

    for (const headers of [{}, { Authorization: `Bearer ${randomBytes(32).toString('base64')}` }, { Authorization: TOKEN }]) {
      const res = await codecHttp
        .post('/codec/decode')
        .set({ Origin: UI, ...headers })
        .send({ payloads });
      expect(res.status).toBe(401);
      expect(payloadsOf(res)).toBeUndefined();
      expect(JSON.stringify(res.body)).not.toContain('json/plain');
    }

    const preflight = await codecHttp.options('/codec/decode').set({
      Origin: UI,
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization, content-type, x-namespace',
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-origin']).toBe(UI);
    expect(preflight.headers['access-control-allow-methods']).toContain('POST');
    expect(preflight.headers['access-control-allow-headers'].split(/,\s*/).sort()).toEqual(['authorization', 'content-type', 'x-namespace']);
  });
});

/** A failure's message as a reader with the keys sees it: its encoded attributes decrypted, or the plain message. */
async function failureMessage(failure: { message?: string | null; encodedAttributes?: Payload | null }): Promise<string> {
  if (!failure.encodedAttributes) return failure.message ?? '';
  const [decoded] = await payloadCodec(h.config)!.decode([failure.encodedAttributes]);
  return defaultPayloadConverter.fromPayload<{ message: string }>(decoded).message;
}

describe('with PAYLOAD_KEYS, nothing unencrypted gets in or out', () => {
  it('a worker with keys refuses a plaintext payload: a workflow started without encryption never runs', async () => {
    const workflowId = `plaintext-${randomUUID()}`;
    // Whoever can reach Temporal could start this: a forged event with a plaintext input.
    await raw.workflow.start('processWebhookEvent', { taskQueue: h.config.TEMPORAL_TASK_QUEUE, workflowId, args: [{ forged: true }] });
    try {
      const failed = await eventually('the worker failing the workflow task', async () => {
        const history = await raw.workflow.getHandle(workflowId).fetchHistory();
        return history.events?.find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes ?? undefined;
      });
      expect(await failureMessage(failed.failure!)).toMatch(/is not encrypted, and with PAYLOAD_KEYS set every payload must be/);
      const history = await raw.workflow.getHandle(workflowId).fetchHistory();
      expect(history.events?.some((e) => e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes)).toBe(false);
      expect((await raw.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');
    } finally {
      await raw.workflow.getHandle(workflowId).terminate('test: plaintext payload refused');
    }
  });

  it('keeps failure messages out of the raw history: a model provider’s error text is encrypted, and readable with the keys', async () => {
    const acct = await h.seedAccount({ credits: 1000 });
    const providerText = `quota for org-${randomUUID()} exceeded`;
    fake.enqueue({ kind: 'status', status: 400, message: providerText });
    const res = await api.post('/api/webhook/').set(acct.auth).send({ employee_id: acct.employeeId, event: 'order.completed', payload: 'x' });
    expect(res.status).toBe(202);
    const workflowId = eventWorkflowId(acct.accountId, (res.body as { message_id: string }).message_id);
    await client.workflow
      .getHandle(workflowId)
      .result()
      .catch(() => undefined);

    const history = await raw.workflow.getHandle(workflowId).fetchHistory();
    const json = historyToJson(history);
    expect(JSON.stringify(json)).not.toContain(providerText);
    expect(readable(json)).not.toContain(providerText);
    expect(Buffer.from(temporal.api.history.v1.History.encode(history).finish()).includes(Buffer.from(providerText))).toBe(false);

    const failedActivity = history.events?.find((e) => e.activityTaskFailedEventAttributes)?.activityTaskFailedEventAttributes;
    expect(failedActivity?.failure?.message).toBe('Encoded failure');
    expect(failedActivity?.failure?.stackTrace ?? '').toBe('');
    expect(Buffer.from(failedActivity!.failure!.encodedAttributes!.metadata![METADATA_ENCODING_KEY]).toString('utf8')).toBe(ENCRYPTED_ENCODING);
    // The positive control: with the keys, the message is there.
    expect(await failureMessage(failedActivity!.failure!)).toContain(providerText);
  });
});
