/**
 * The console's templates: a tagged template that escapes every interpolated value unless it is
 * markup this module made. Escaping is the default and the only way in: a string can become
 * markup only through `html` itself (or `raw`, kept for trusted constants such as an SVG built here).
 * Chosen over @kitajs/html, whose JSX leaves children unescaped unless each element says `safe`.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** What a template may interpolate: markup, text (escaped), numbers, absent values (nothing) and lists of these. */
export type Part = Html | string | number | boolean | null | undefined | readonly Part[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

function render(part: Part): string {
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return part.map(render).join('');
  if (part === null || part === undefined || part === false || part === true) return '';
  return escapeHtml(String(part));
}

/** html`<p>${text}</p>`: interpolations are escaped (attributes too: always quote them). */
export function html(strings: TemplateStringsArray, ...parts: Part[]): Html {
  let out = strings[0];
  for (let i = 0; i < parts.length; i++) out += render(parts[i]) + strings[i + 1];
  return new Html(out);
}

/** Markup from a trusted constant, never from input. */
export function raw(text: string): Html {
  return new Html(text);
}
