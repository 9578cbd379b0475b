import { parseArguments, ToolArguments } from '../../activities/agent';
import { TOOL_NAMES } from '../../workflows/contract';

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

    it('refuses a blank, missing, non-string or over-long note', () => {
      expect(parseArguments('remember', '{"note":"   "}')).toEqual({ ok: false, error: 'Invalid arguments for remember: note: note must not be empty.' });
      expect(parseArguments('remember', '{}')).toEqual({ ok: false, error: 'Invalid arguments for remember: note: note must be a string.' });
      expect(parseArguments('remember', '{"note":["a"]}')).toEqual({ ok: false, error: 'Invalid arguments for remember: note: note must be a string.' });
      const long = parseArguments('remember', JSON.stringify({ note: 'x'.repeat(2_001) }));
      expect(long.ok).toBe(false);
      expect(long.ok || long.error).toMatch(/^Invalid arguments for remember: note: /);
      expect(parseArguments('remember', JSON.stringify({ note: 'x'.repeat(2_000) })).ok).toBe(true);
    });
  });

  describe('reply {"text": text}', () => {
    it('accepts text', () => {
      expect(parseArguments('reply', '{"text":"Order 1234 is on its way."}')).toEqual({ ok: true, args: { text: 'Order 1234 is on its way.' } });
    });

    it('refuses a blank, non-string or over-long text', () => {
      expect(parseArguments('reply', '{"text":""}')).toEqual({ ok: false, error: 'Invalid arguments for reply: text: text must not be empty.' });
      expect(parseArguments('reply', '{"text":5}')).toEqual({ ok: false, error: 'Invalid arguments for reply: text: text must be a string.' });
      expect(parseArguments('reply', JSON.stringify({ text: 'x'.repeat(10_001) })).ok).toBe(false);
      expect(parseArguments('reply', JSON.stringify({ text: 'x'.repeat(10_000) })).ok).toBe(true);
    });
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
