import { parseArguments, ToolArguments } from '../../activities/tools';
import { TOOL_NAMES } from '../../src/domain/agent';

/** Tool arguments as the interface names them; a bad call comes back as an error the model can act on. */
describe('tool arguments', () => {
  it('has a schema for every tool an operator can turn on', () => {
    expect(Object.keys(ToolArguments).sort()).toEqual([...TOOL_NAMES].sort());
  });

  describe('send_webhook {"endpoint": name, "body": JSON object}', () => {
    it('accepts an endpoint name and a JSON object body', () => {
      expect(parseArguments('send_webhook', '{"endpoint":"crm","body":{"order":1234,"lines":[{"sku":"A"}]}}')).toEqual({
        ok: true,
        args: { endpoint: 'crm', body: { order: 1234, lines: [{ sku: 'A' }] } },
      });
    });

    it('accepts an empty object body and ignores extra fields', () => {
      expect(parseArguments('send_webhook', '{"endpoint":"crm","body":{},"priority":"high"}')).toEqual({ ok: true, args: { endpoint: 'crm', body: {} } });
    });

    it.each([
      ['a string body', '{"endpoint":"crm","body":"order 1234"}'],
      ['an array body', '{"endpoint":"crm","body":[1,2]}'],
      ['a null body', '{"endpoint":"crm","body":null}'],
      ['a number body', '{"endpoint":"crm","body":42}'],
      ['no body', '{"endpoint":"crm"}'],
    ])('refuses %s, naming the body', (_what, raw) => {
      expect(parseArguments('send_webhook', raw)).toEqual({ ok: false, error: 'Invalid arguments for send_webhook: body: body must be a JSON object.' });
    });

    it.each([
      ['no endpoint', '{"body":{}}'],
      ['an empty endpoint', '{"endpoint":"","body":{}}'],
      ['a numeric endpoint', '{"endpoint":7,"body":{}}'],
      ['empty arguments', ''],
    ])('refuses %s, naming the endpoint', (_what, raw) => {
      const parsed = parseArguments('send_webhook', raw);
      expect(parsed.ok).toBe(false);
      expect(parsed.ok || parsed.error).toMatch(/^Invalid arguments for send_webhook: endpoint: /);
    });
  });

  describe('remember {"note": text}', () => {
    it('keeps the note trimmed', () => {
      expect(parseArguments('remember', '{"note":"  John prefers express shipping  "}')).toEqual({ ok: true, args: { note: 'John prefers express shipping' } });
    });
  });

  describe('reply {"text": text}', () => {
    it('accepts text', () => {
      expect(parseArguments('reply', '{"text":"Order 1234 is on its way."}')).toEqual({ ok: true, args: { text: 'Order 1234 is on its way.' } });
    });
  });

  it.each([
    ['remember', 'a blank note', '{"note":"   "}', 'Invalid arguments for remember: note: note must not be empty.'],
    ['remember', 'a missing note', '{}', 'Invalid arguments for remember: note: note must be a string.'],
    ['remember', 'a non-string note', '{"note":["a"]}', 'Invalid arguments for remember: note: note must be a string.'],
    ['reply', 'an empty text', '{"text":""}', 'Invalid arguments for reply: text: text must not be empty.'],
    ['reply', 'a non-string text', '{"text":5}', 'Invalid arguments for reply: text: text must be a string.'],
  ] as const)('%s refuses %s, naming the field', (tool, _what, raw, error) => {
    expect(parseArguments(tool, raw)).toEqual({ ok: false, error });
  });

  it.each([
    ['remember', 'note', 2_000],
    ['reply', 'text', 10_000],
  ] as const)('%s takes a %s of up to %i characters and refuses a longer one', (tool, field, max) => {
    expect(parseArguments(tool, JSON.stringify({ [field]: 'x'.repeat(max) })).ok).toBe(true);
    const long = parseArguments(tool, JSON.stringify({ [field]: 'x'.repeat(max + 1) }));
    expect(long.ok).toBe(false);
    expect(long.ok || long.error).toMatch(new RegExp(`^Invalid arguments for ${tool}: ${field}: `));
  });

  it.each([
    ['not JSON', '{"text": "unterminated'],
    ['plain words', 'send it to the crm'],
  ])('answers arguments that are %s with a JSON error the model can correct', (_what, raw) => {
    expect(parseArguments('reply', raw)).toEqual({ ok: false, error: 'The arguments of reply are not valid JSON. Send a JSON object.' });
  });

  it.each(['[]', 'null', '"text"', '3'])('refuses arguments that are JSON but not an object: %s', (raw) => {
    const parsed = parseArguments('reply', raw);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok || parsed.error).toMatch(/^Invalid arguments for reply: arguments: .*expected object/);
  });
});
