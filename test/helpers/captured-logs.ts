import { Writable } from 'node:stream';

export interface CapturedLogs {
  /** Where a logger writes (pino destination). */
  stream: Writable;
  /** Every line written so far, parsed. */
  lines: Array<Record<string, unknown>>;
  /**
   * Everything written so far, followed by the same lines with every Buffer pino wrote as
   * `{"type":"Buffer","data":[…]}` decoded: bytes logged as a Buffer must not hide a secret from a search.
   */
  text(): string;
}

const decodeBuffers = (_key: string, value: unknown) =>
  value && typeof value === 'object' && (value as { type?: unknown }).type === 'Buffer' && Array.isArray((value as { data?: unknown }).data)
    ? Buffer.from((value as { data: number[] }).data).toString('latin1')
    : value;

/** An in-memory log destination, to read back what a logger wrote. */
export function captureLogs(): CapturedLogs {
  const written: string[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString('utf8');
      written.push(text);
      for (const line of text.split('\n')) if (line.trim()) lines.push(JSON.parse(line));
      done();
    },
  });
  return {
    stream,
    lines,
    text: () =>
      `${written.join('')}\n${written
        .flatMap((t) => t.split('\n').filter((l) => l.trim()))
        .map((l) => JSON.stringify(JSON.parse(l, decodeBuffers)))
        .join('\n')}`,
  };
}
