import { SourceSettingsError } from './kinds';

/** What the employee reads of one delivery, at most (the seed's payload limit). */
export const MAX_TEXT_BYTES = 65_536;
const CUT_NOTE = '\n[… cut: the body was longer than 64 KB]';
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const PATH = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/;
const MAX_TEMPLATE_LENGTH = 4_096;

/** The value at a dotted path (`issue.number`, `items.0.id`), or undefined. */
export function jsonPath(value: unknown, path: string): unknown {
  let at: unknown = value;
  for (const part of path.split('.')) {
    if (at === null || typeof at !== 'object') return undefined;
    if (!Object.prototype.hasOwnProperty.call(at, part)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** Refuses a template `source add` could not render: unbalanced braces, or a placeholder that is not a dotted path. */
export function checkTemplate(template: string): string {
  if (template.trim().length === 0) throw new SourceSettingsError('--template must not be empty.');
  if (template.length > MAX_TEMPLATE_LENGTH) throw new SourceSettingsError(`--template must be at most ${MAX_TEMPLATE_LENGTH} characters.`);
  for (const match of template.matchAll(PLACEHOLDER)) {
    if (!PATH.test(match[1])) throw new SourceSettingsError(`--template placeholder {{${match[1]}}} is not a dotted field path like issue.number.`);
  }
  const rest = template.replace(PLACEHOLDER, '');
  if (rest.includes('{{') || rest.includes('}}')) throw new SourceSettingsError('--template has an unclosed {{ or a stray }}.');
  return template;
}

/** The body as JSON, or undefined when it is not (it then reaches the employee as text). */
export function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function scalar(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * The employee's text: the template over the JSON body (missing fields render empty, and so does
 * every field of a body that is not JSON), else the body itself, pretty-printed when it is JSON.
 * Cut to 64 KB with a note.
 */
export function renderText(text: string, parsed: unknown, template: string | undefined): string {
  let out: string;
  if (template) out = template.replace(PLACEHOLDER, (_m, path: string) => scalar(jsonPath(parsed, path)));
  else out = parsed === undefined ? text : JSON.stringify(parsed, null, 2);
  if (out.trim().length === 0) out = '(empty body)';
  return cut(out);
}

function cut(text: string): string {
  if (Buffer.byteLength(text) <= MAX_TEXT_BYTES) return text;
  const room = MAX_TEXT_BYTES - Buffer.byteLength(CUT_NOTE);
  // Cut on a character boundary: decoding a byte-cut prefix drops a split character's bytes.
  const head = Buffer.from(text)
    .subarray(0, room)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return `${head}${CUT_NOTE}`;
}

/** A label safe for the `[Webhook: <label>]` line: the seed's event alphabet, at most 128 characters. */
export function cleanLabel(label: unknown): string | undefined {
  if (typeof label !== 'string') return undefined;
  const clean = label.replace(/[^A-Za-z0-9._\-:/]/g, '_').slice(0, 128);
  return clean.length > 0 ? clean : undefined;
}
