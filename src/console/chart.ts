import { html, type Html } from './html';

const DAY_MS = 86_400_000;

/** Every UTC day of [from, to) as YYYY-MM-DD, oldest first. */
export function daysOf(from: Date, to: Date): string[] {
  const days: string[] = [];
  for (let t = Math.floor(from.getTime() / DAY_MS) * DAY_MS; t < to.getTime(); t += DAY_MS) days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/**
 * Credits per day as a bar chart in SVG, drawn on the server (no script, no inline style: the CSP
 * allows neither). Its numbers are also in the table the chart sits beside, for screen readers.
 */
export function creditsChart(days: string[], credits: Map<string, number>): Html {
  const width = 720;
  const height = 200;
  const pad = { left: 40, bottom: 24, top: 10 };
  const max = Math.max(1, ...days.map((d) => credits.get(d) ?? 0));
  const slot = (width - pad.left) / Math.max(1, days.length);
  const plot = height - pad.bottom - pad.top;
  const bars = days.map((day, i) => {
    const value = credits.get(day) ?? 0;
    const h = Math.round((value / max) * plot);
    const x = (pad.left + i * slot + slot * 0.15).toFixed(1);
    return html`<rect class="bar" x="${x}" y="${height - pad.bottom - h}" width="${(slot * 0.7).toFixed(1)}" height="${h}"
      ><title>${day}: ${value} credits</title></rect
    >`;
  });
  const ticks = days.length > 0 ? [0, days.length - 1] : [];
  return html`<svg
    class="chart"
    viewBox="0 0 ${width} ${height}"
    role="img"
    aria-label="Credits per day, ${days[0] ?? ''} to ${days.at(-1) ?? ''}; highest ${max}"
  >
    <line class="axis" x1="${pad.left}" y1="${height - pad.bottom}" x2="${width}" y2="${height - pad.bottom}"></line>
    <text x="${pad.left - 4}" y="${pad.top + 10}" text-anchor="end">${max}</text>
    <text x="${pad.left - 4}" y="${height - pad.bottom}" text-anchor="end">0</text>
    ${bars} ${ticks.map((i) => html`<text x="${(pad.left + i * slot + slot / 2).toFixed(1)}" y="${height - 6}" text-anchor="middle">${days[i]}</text>`)}
  </svg>`;
}
