import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import MarkdownIt from 'markdown-it';
import { MarkdownStream } from '../../src/markdownStream';

const md = new MarkdownIt({ html: false, linkify: true, breaks: false });

/** Streams `text` in `delta`-character pieces, one flush per `perFrame` pieces, 16 ms apart. */
function stream(text: string, delta: number, perFrame: number) {
  let rendered = 0; // characters of markdown handed to the renderer, in total
  const s = new MarkdownStream((src) => {
    rendered += src.length;
    return md.render(src);
  });
  const settled: string[] = [];
  let tail = '';
  let now = 0;
  let pieces = 0;
  for (let i = 0; i < text.length; i += delta) {
    s.push(text.slice(i, i + delta));
    if (++pieces % perFrame) continue;
    now += 16;
    const r = s.flush(now);
    settled.push(...r.settled);
    if (r.tail !== undefined) tail = r.tail;
  }
  for (;;) {
    // the stream ended: flush until the tail is shown
    now += 16;
    const r = s.flush(now);
    settled.push(...r.settled);
    if (r.tail !== undefined) tail = r.tail;
    if (r.due === undefined) break;
    now = r.due;
  }
  return { html: settled.join('') + tail, rendered };
}

const DOC = [
  '# Title',
  '',
  'A paragraph with `code` and a [link](https://example.com).',
  '',
  '```python',
  'def f():',
  '',
  '    return 1  # a blank line inside the fence does not split it',
  '```',
  '',
  '- one',
  '- two',
  '',
  '> quoted',
  '',
  '~~~~',
  '```',
  '',
  '~~~~',
  '',
  'Last words.',
  '',
].join('\n');

test('a streamed answer shows exactly what rendering it whole shows', () => {
  for (const delta of [1, 7, 20, 1000]) {
    assert.equal(stream(DOC, delta, 3).html, md.render(DOC), `delta ${delta}`);
  }
});

test('paragraphs of a long answer are rendered once each, not once per frame', () => {
  const paragraph = `${'word '.repeat(100).trim()}\n\n`;
  const text = paragraph.repeat(2000); // 1 MB
  const { html, rendered } = stream(text, 20, 50);
  assert.equal(html, md.render(text));
  // Re-rendering the whole answer each frame handed the renderer ~500x the answer's length.
  assert.ok(rendered <= 2 * text.length, `rendered ${rendered} characters for ${text.length}`);
});

test('one long paragraph is re-rendered less often as it grows', () => {
  const text = 'word '.repeat(200_000); // 1 MB, no block boundary at all
  const { html, rendered } = stream(text, 20, 50);
  assert.equal(html, md.render(text));
  assert.ok(rendered <= 32 * text.length, `rendered ${rendered} characters for ${text.length}`);
});
