// Streaming markdown in time linear in the answer's length.
//
// Re-rendering a whole answer on every frame made a long answer quadratic. A MarkdownStream
// instead cuts the text at block boundaries (a blank line, outside fenced code, followed by a
// line that starts a new top-level block), renders each finished part once, and re-renders
// only the unfinished tail; a long tail is re-rendered less often (at most once per
// `msPerKiB` milliseconds per KiB of tail), so its cost stays a bounded share of the time.
// While streaming, constructs that span blank lines (a loose list, a reference link defined
// later) may look slightly different; the finished turn is rendered whole, once.

/** What to show after a flush: finished parts to append, and the tail's new HTML if it is due. */
export interface StreamRender {
  /** HTML of newly finished parts, in order; each is rendered once and never changes. */
  settled: string[];
  /** The unfinished tail's HTML, replacing the previous one; undefined: keep what is shown. */
  tail?: string;
  /** When (in `now`'s clock) a throttled tail is due; flush again then. */
  due?: number;
}

const HEAD = 256; // characters of a line kept for the fence checks (a fence line is short)
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

export class MarkdownStream {
  private tail = ''; // the text after the settled part
  private pending: string[] = [];
  private cut = 0; // the last block boundary found in `tail` (0: none)
  private fence: string | undefined; // the open code fence, if any
  private prevBlank = false;
  private lineHead = ''; // the start of the unfinished last line
  private lineBlank = true;
  private lineStart = 0; // where the unfinished last line starts in `tail`
  private renderedAt = Number.NEGATIVE_INFINITY;
  private dirty = false;

  constructor(
    private readonly render: (markdown: string) => string,
    private readonly msPerKiB = 1,
  ) {}

  /** Streamed text to add (cheap: nothing is rendered until `flush`). */
  push(text: string): void {
    if (text) this.pending.push(text);
  }

  /** Render what is due at time `now` (milliseconds). */
  flush(now: number): StreamRender {
    if (this.pending.length) {
      const added = this.pending.join('');
      this.pending = [];
      this.scan(added, this.tail.length);
      this.tail += added;
      this.dirty = true;
    }
    const settled: string[] = [];
    if (this.cut > 0) {
      settled.push(this.render(this.tail.slice(0, this.cut)));
      this.tail = this.tail.slice(this.cut);
      this.lineStart -= this.cut;
      this.cut = 0;
    }
    if (!this.dirty) return { settled };
    const wait = (this.tail.length / 1024) * this.msPerKiB;
    if (settled.length || now - this.renderedAt >= wait) {
      this.renderedAt = now;
      this.dirty = false;
      return { settled, tail: this.render(this.tail) };
    }
    return { settled, due: this.renderedAt + wait };
  }

  /** Find block boundaries in `added`, which starts at `offset` in the tail (each character once). */
  private scan(added: string, offset: number): void {
    let from = 0;
    for (;;) {
      const nl = added.indexOf('\n', from);
      const piece = added.slice(from, nl === -1 ? added.length : nl);
      if (this.lineHead.length < HEAD) this.lineHead += piece.slice(0, HEAD - this.lineHead.length);
      this.lineBlank &&= !/\S/.test(piece);
      if (nl === -1) return;
      this.line(this.lineHead, this.lineBlank, this.lineStart);
      from = nl + 1;
      this.lineHead = '';
      this.lineBlank = true;
      this.lineStart = offset + from;
    }
  }

  private line(head: string, blank: boolean, start: number): void {
    if (this.fence !== undefined) {
      const close = new RegExp(`^ {0,3}${this.fence[0]}{${this.fence.length},}\\s*$`);
      if (close.test(head)) this.fence = undefined;
      this.prevBlank = false;
      return;
    }
    if (blank) {
      this.prevBlank = true;
      return;
    }
    if (this.prevBlank && !/^\s/.test(head)) this.cut = start; // a new top-level block
    this.prevBlank = false;
    const open = FENCE.exec(head);
    if (open) this.fence = open[1];
  }
}
