import { html, raw } from '../../src/console/html';
import { curlFor } from '../../src/console/pages/employees';

describe('console templates', () => {
  it('escape every interpolated string, in text and in attributes', () => {
    const name = `<script>alert("x")</script>' onmouseover='y`;
    const out = html`<p title="${name}">${name}</p>`.text;
    expect(out).not.toContain('<script>');
    expect(out).not.toContain(`' onmouseover='`);
    expect(out).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39; onmouseover=&#39;y</p>',
    );
  });

  it('keep markup made by html itself, flatten lists and drop absent values', () => {
    const items = ['a&b', 'c'].map((x) => html`<li>${x}</li>`);
    expect(
      html`<ul>
          ${items}${undefined}${null}${false}
        </ul>
        ${raw('<hr>')}`.text.replace(/\s+/g, ''),
    ).toBe('<ul><li>a&amp;b</li><li>c</li></ul><hr>');
  });

  it("fill the seed's curl with the employee id and the service's own URL", () => {
    const curl = curlFor('https://console.example.test', '3f0c1d8e-0000-4000-8000-000000000001');
    expect(curl).toContain('curl -X POST https://console.example.test/api/webhook/');
    expect(curl).toContain('"employee_id": "3f0c1d8e-0000-4000-8000-000000000001"');
    expect(curl).toContain('-H "Authorization: Bearer sk-your-key"');
  });
});
