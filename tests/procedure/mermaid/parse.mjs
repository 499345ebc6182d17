// Parse each Mermaid text of a JSON array read from stdin with Mermaid's own parser; print a JSON array of
// {ok, type} or {ok: false, error}. Mermaid sanitises labels with DOMPurify, which needs a DOM: jsdom's.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');

const texts = JSON.parse(readFileSync(0, 'utf8'));
const out = [];
for (const text of texts) {
  try {
    const parsed = await mermaid.parse(text);
    out.push({ ok: true, type: parsed.diagramType });
  } catch (e) {
    out.push({ ok: false, error: String((e && e.message) || e) });
  }
}
process.stdout.write(JSON.stringify(out));
