// The chat page. Rendered from the extension's ChatViewState; streamed updates
// are applied locally between full states. Markdown goes through markdown-it
// with raw HTML off, so agent output cannot inject markup or script.
import MarkdownIt from 'markdown-it';
import {
  applyUpdate,
  chatTotals,
  type ChatViewState,
  type Entry,
  type FromWebview,
  type ToWebview,
  totalsLabel,
  usageLabel,
  usageLimitWaitText,
  type ViewTurn,
} from '../chatModel';
import { MarkdownStream } from '../markdownStream';
import { decorateCodeBlocks, highlight } from './codeBlocks';
import { Composer } from './composer';
import { Picker } from './picker';
import { renderPermissions } from './permissionCards';
import type { Block, Update } from '../protocol';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void; setState(state: unknown): void };

const vscode = acquireVsCodeApi();
const md = new MarkdownIt({ html: false, linkify: true, breaks: false, highlight });
const post = (m: FromWebview): void => vscode.postMessage(m);

function $(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing`);
  return node;
}
const transcript = $('transcript');
const input = $('input') as HTMLTextAreaElement;
const sendButton = $('send') as HTMLButtonElement;
const cancelButton = $('cancel') as HTMLButtonElement;
const newButton = $('new') as HTMLButtonElement;
const title = $('title');
const meta = $('meta');
const status = $('status');
const permissions = $('permissions');
const announcer = $('announce');
const totals = $('totals');
const meter = $('context-meter') as HTMLMeterElement;
const attachButton = $('attach') as HTMLButtonElement;
const composer = new Composer(input, $('chips'), $('completions'), post);
const picker = new Picker($('pick-provider') as HTMLSelectElement, $('pick-model') as HTMLSelectElement, $('pick-reasoning') as HTMLSelectElement, post);

let state: ChatViewState | undefined;
let lastTurnNode: HTMLElement | undefined;
let live: LiveTurn | undefined; // the running turn, updated in place
let frame = 0;
let tailTimer: ReturnType<typeof setTimeout> | undefined;

function el(tag: string, className?: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderBlock(block: Block): HTMLElement {
  switch (block.type) {
    case 'text': {
      const node = el('div', 'text markdown');
      node.innerHTML = md.render(block.text);
      decorateCodeBlocks(node, post);
      return node;
    }
    case 'thinking': {
      const details = el('details', 'thinking');
      details.append(el('summary', undefined, 'Thinking'), el('div', 'thinking-text', block.text));
      return details;
    }
    case 'tool_use': {
      const details = el('details', `tool${block.isError ? ' tool-error' : ''}`);
      const summary = el('summary');
      summary.append(el('span', 'tool-name', block.name), el('span', 'tool-arg', toolSummary(block.input ?? {})));
      if (block.output === undefined || block.output === null) summary.append(el('span', 'tool-state', 'running…'));
      details.append(summary, el('pre', 'tool-input', JSON.stringify(block.input ?? {}, null, 2)));
      if (block.output !== undefined && block.output !== null) details.append(el('pre', 'tool-output', block.output || '(no output)'));
      return details;
    }
  }
}

function toolSummary(input: Record<string, unknown>): string {
  const first = input.command ?? input.cmd ?? input.file_path ?? input.path ?? input.pattern ?? Object.values(input)[0];
  const text = typeof first === 'string' ? first : first === undefined ? '' : JSON.stringify(first);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function renderTurn(turn: ViewTurn): HTMLElement {
  const node = el('section', 'turn');
  const user = el('div', 'message user');
  user.append(el('div', 'role', 'You'), el('div', 'body', turn.input));
  if (turn.attachments?.length) user.append(attachmentList(turn));
  const agent = el('div', `message assistant${turn.running ? ' running' : ''} stop-${turn.stopReason ?? 'none'}`);
  agent.append(el('div', 'role', state?.provider ?? 'agent'));
  if (turn.wait) agent.append(el('div', 'usage-wait', usageLimitWaitText(turn.wait)));
  if (turn.waitNote) {
    const note = el('div', 'turn-note wait-note', turn.waitNote);
    // The message was not sent again: Retry sends it (while the chat is usable).
    if (turn.waitStopped && state?.sessionId && state.status === 'idle') note.append(' ', retryButton(() => post({ type: 'send', text: turn.input })));
    agent.append(note);
  }
  const body = el('div', 'body');
  // A failed turn's error is said once, in its note: the CLI's streamed copy of it is left out.
  const error = turn.stopReason === 'error' ? (turn.error ?? '') : '';
  for (const block of turn.output) {
    if (error && block.type === 'text' && block.text.trim() && error.includes(block.text.trim())) continue;
    body.append(renderBlock(block));
  }
  if (turn.running && !turn.output.length && !turn.wait) body.append(el('div', 'waiting', 'Waiting for the agent…'));
  if (turn.running && !turn.wait) body.append(el('span', 'cursor'));
  agent.append(body);
  if (turn.stopReason === 'cancelled' && !turn.waitStopped) agent.append(el('div', 'turn-note', 'Cancelled.'));
  if (turn.stopReason === 'interrupted') agent.append(el('div', 'turn-note warning', turn.error ?? 'Interrupted.'));
  if (turn.stopReason === 'error') {
    const note = el('div', 'turn-note error', turn.error ?? 'The turn failed.');
    // Retry sends the same message again (while the chat is usable).
    if (state?.sessionId && state.status === 'idle') note.append(' ', retryButton(() => post({ type: 'send', text: turn.input })));
    agent.append(note);
  }
  if (turn.changes?.length) agent.append(changeList(turn));
  const spent = turn.usage && (turn.usage.inputTokens ?? 0) + (turn.usage.outputTokens ?? 0) + (turn.usage.costUsd ?? 0) > 0;
  if (turn.usage && spent && !turn.running) agent.append(el('div', 'turn-usage', usageLabel(turn.usage)));
  node.append(user, agent);
  return node;
}

interface Shown {
  block: Block;
  node: HTMLElement;
  update(now: number): number | undefined; // returns when a throttled tail is due
}

/**
 * The running turn's DOM, changed in place as updates stream in: each streamed text block is a
 * MarkdownStream (finished parts rendered once, the tail re-rendered, throttled when long) and
 * a thinking block gets only its new text. Rebuilding the turn every frame made a long answer
 * quadratic. The finished turn arrives in a state message and is rendered whole, once.
 */
class LiveTurn {
  readonly node: HTMLElement;
  private readonly body = el('div', 'body');
  private readonly waiting = el('div', 'waiting', 'Waiting for the agent…');
  private readonly cursor = el('span', 'cursor');
  /** While the daemon waits for a usage limit to reset: in place of "Waiting for the agent…". */
  private readonly wait = el('div', 'usage-wait');
  /** What the wait came to, once the turn was sent again. */
  private readonly waitNote = el('div', 'turn-note wait-note');
  private shown: Shown[] = [];
  private readonly texts = new WeakMap<Block, (text: string) => void>();

  constructor(readonly turn: ViewTurn) {
    this.node = el('section', 'turn');
    const user = el('div', 'message user');
    user.append(el('div', 'role', 'You'), el('div', 'body', turn.input));
    const agent = el('div', 'message assistant running stop-none');
    agent.append(el('div', 'role', state?.provider ?? 'agent'), this.wait, this.waitNote, this.body);
    this.body.append(this.waiting, this.cursor);
    this.node.append(user, agent);
  }

  /** A streamed update was applied to the turn: hand its text to the block that took it. */
  took(update: Update): void {
    if ((update.kind === 'text' || update.kind === 'thinking') && update.text) {
      const block = this.turn.output.at(-1);
      if (block) this.texts.get(block)?.(update.text); // a block not shown yet starts from its text
    }
  }

  /** Bring the DOM up to the turn; returns when a throttled tail is due, if one is. */
  update(now: number): number | undefined {
    const output = this.turn.output;
    let same = 0;
    while (same < this.shown.length && same < output.length && this.shown[same].block === output[same]) same++;
    for (const gone of this.shown.splice(same)) gone.node.remove(); // a retried answer voids them
    for (const block of output.slice(same)) {
      const shown = this.show(block);
      this.body.insertBefore(shown.node, this.waiting);
      this.shown.push(shown);
    }
    const wait = this.turn.wait;
    this.wait.hidden = !wait;
    if (wait) this.wait.textContent = usageLimitWaitText(wait);
    this.waitNote.hidden = !this.turn.waitNote;
    this.waitNote.textContent = this.turn.waitNote ?? '';
    this.waiting.hidden = output.length > 0 || !!wait;
    this.cursor.hidden = !!wait;
    let due: number | undefined;
    for (const shown of this.shown) {
      const next = shown.update(now);
      if (next !== undefined) due = Math.min(due ?? next, next);
    }
    return due;
  }

  private show(block: Block): Shown {
    if (block.type === 'text') {
      const node = el('div', 'text markdown');
      const tail = el('div');
      tail.style.display = 'contents';
      node.append(tail);
      const markdown = new MarkdownStream((src) => md.render(src));
      markdown.push(block.text);
      this.texts.set(block, (text) => markdown.push(text));
      return {
        block,
        node,
        update(now) {
          const r = markdown.flush(now);
          for (const html of r.settled) {
            const part = document.createElement('template');
            part.innerHTML = html;
            decorateCodeBlocks(part.content, post);
            node.insertBefore(part.content, tail);
          }
          if (r.tail !== undefined) tail.innerHTML = r.tail;
          return r.due;
        },
      };
    }
    if (block.type === 'thinking') {
      const node = el('details', 'thinking');
      const text = document.createTextNode(block.text);
      const body = el('div', 'thinking-text');
      body.append(text);
      node.append(el('summary', undefined, 'Thinking'), body);
      let pending: string[] = [];
      this.texts.set(block, (more) => pending.push(more));
      return {
        block,
        node,
        update() {
          if (pending.length) text.appendData(pending.join(''));
          pending = [];
          return undefined;
        },
      };
    }
    const shown: Shown = {
      block,
      node: renderBlock(block),
      update() {
        if (block.output !== undefined && block.output !== null && !shown.node.querySelector('.tool-output')) {
          const node = renderBlock(block); // its result arrived
          shown.node.replaceWith(node);
          shown.node = node;
        }
        return undefined;
      },
    };
    return shown;
  }
}

function renderEntry(entry: Entry): HTMLElement {
  if (entry.kind === 'turn' && entry.turn.running) {
    live = new LiveTurn(entry.turn);
    live.update(performance.now());
    return live.node;
  }
  if (entry.kind === 'turn') return renderTurn(entry.turn);
  const notice = el('div', `notice ${entry.level}`, entry.text);
  if (entry.retry) notice.append(' ', retryButton(() => post({ type: 'retry' })));
  return notice;
}

function attachmentList(turn: ViewTurn): HTMLElement {
  const list = el('ul', 'attachments');
  list.setAttribute('aria-label', 'Attached');
  for (const a of turn.attachments ?? []) {
    const item = el('li');
    const link = el('a', 'attachment', `@${a.name || a.uri.replace(/^file:\/\/.*\//, '')}`) as HTMLAnchorElement;
    link.href = '#';
    link.title = a.uri;
    link.addEventListener('click', (e) => {
      e.preventDefault();
      post({ type: 'openAttachment', uri: a.uri });
    });
    item.append(link);
    list.append(item);
  }
  return list;
}

/** The files the turn changed: each opens the diff editor; one button reverts them all. */
function changeList(turn: ViewTurn): HTMLElement {
  const box = el('div', 'changes');
  const head = el('div', 'changes-head', `${turn.changes?.length ?? 0} file${turn.changes?.length === 1 ? '' : 's'} changed`);
  box.append(head);
  const list = el('ul', 'change-list');
  for (const c of turn.changes ?? []) {
    const item = el('li', `change ${c.status}`);
    const open = el('button', 'link change-open', c.path) as HTMLButtonElement;
    open.type = 'button';
    open.title = `Show the change of ${c.path} (${c.status})`;
    open.addEventListener('click', () => turn.number !== undefined && post({ type: 'openChange', turn: turn.number, path: c.path }));
    item.append(el('span', 'change-status', c.status === 'added' ? 'A' : c.status === 'deleted' ? 'D' : 'M'), open);
    list.append(item);
  }
  box.append(list);
  if (turn.reverted) box.append(el('div', 'turn-note', 'Reverted.'));
  else if (turn.number !== undefined && state?.status === 'idle') {
    const revert = el('button', 'secondary revert', "Revert this turn's changes") as HTMLButtonElement;
    revert.type = 'button';
    revert.addEventListener('click', () => {
      revert.disabled = true;
      if (turn.number !== undefined) post({ type: 'revert', turn: turn.number });
    });
    box.append(revert);
  }
  return box;
}

function retryButton(run: () => void): HTMLElement {
  const button = el('button', 'secondary retry', 'Retry') as HTMLButtonElement;
  button.type = 'button';
  button.addEventListener('click', () => {
    button.disabled = true;
    run();
  });
  return button;
}

function atBottom(): boolean {
  return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
}

function render(): void {
  if (!state) return;
  const stick = atBottom();
  title.textContent = state.title && state.sessionId ? state.title : `caw · ${state.folderName}`;
  // The picker shows provider and model when the daemon lists them; else the plain text does.
  meta.textContent = state.models?.length ? '' : [state.provider, state.model].filter(Boolean).join(' · ');
  const sums = chatTotals(state.entries);
  totals.textContent = totalsLabel(sums);
  meter.hidden = !sums.context;
  if (sums.context) {
    meter.value = sums.context.share;
    meter.title = `Context: ${sums.context.used.toLocaleString()} of ${sums.context.window.toLocaleString()} tokens (${Math.round(sums.context.share * 100)}%)`;
    meter.setAttribute('aria-label', meter.title);
  }
  status.textContent = statusLine(state.status);
  status.className = `status-${state.status}`;
  document.body.dataset.status = state.status;
  transcript.replaceChildren();
  lastTurnNode = undefined;
  live = undefined;
  if (!state.entries.length && (state.status === 'empty' || state.status === 'idle')) {
    transcript.append(
      el('div', 'empty', state.sessionId ? 'Ask the agent anything about this workspace.' : 'No chat yet. Start one with "caw: New Chat".'),
    );
  }
  for (const entry of state.entries) {
    const node = renderEntry(entry);
    transcript.append(node);
    if (entry.kind === 'turn') lastTurnNode = node;
  }
  const running = state.status === 'running';
  const usable = state.sessionId && (state.status === 'idle' || running || state.status === 'reconnecting');
  sendButton.disabled = !usable || running;
  input.disabled = !usable;
  cancelButton.hidden = !running;
  newButton.hidden = state.status !== 'ended' && state.status !== 'failed' && state.status !== 'empty';
  renderPermissions(permissions, state.permissions ?? [], (m) => post(m), input);
  composer.renderChips(state);
  picker.render(state);
  attachButton.disabled = !usable;
  if (stick) transcript.scrollTop = transcript.scrollHeight;
}

function statusText(s: ChatViewState['status']): string {
  return {
    empty: '',
    starting: 'starting…',
    idle: 'ready',
    running: 'answering…',
    reconnecting: 'reconnecting…',
    ended: 'ended',
    failed: 'not connected',
  }[s];
}

/** The header's status: the chat's, or that its last turn waits for a usage limit to reset. */
function statusLine(s: ChatViewState['status']): string {
  return lastTurn()?.wait ? 'waiting for the usage limit…' : statusText(s);
}

function lastTurn(): ViewTurn | undefined {
  const entries = state?.entries ?? [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i];
    if (e.kind === 'turn') return e.turn;
  }
  return undefined;
}

function rerenderLastTurn(): void {
  frame = 0;
  const turn = lastTurn();
  if (!turn || !lastTurnNode) return render();
  const stick = atBottom();
  if (live?.turn === turn) {
    const due = live.update(performance.now());
    clearTimeout(tailTimer);
    // A long tail is re-rendered less often; show its last state when it is due.
    if (due !== undefined) tailTimer = setTimeout(() => (frame ||= requestAnimationFrame(rerenderLastTurn)), due - performance.now());
  } else {
    const node = renderTurn(turn);
    lastTurnNode.replaceWith(node);
    lastTurnNode = node;
  }
  if (stick) transcript.scrollTop = transcript.scrollHeight;
}

// A usage-limit wait's "about N min" stays current.
setInterval(() => {
  if (live?.turn.running && live.turn.wait) live.update(performance.now());
}, 30_000);

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'state':
      state = message.state;
      // Kept by VS Code with the view: a restored view finds its folder's chat.
      if (state.folderUri) vscode.setState({ folderUri: state.folderUri });
      render();
      break;
    case 'announce':
      // The only live region: finished answers and failures, said once (not every streamed frame).
      announcer.textContent = '';
      requestAnimationFrame(() => (announcer.textContent = message.text));
      break;
    case 'update': {
      const turn = lastTurn();
      if (turn?.running) {
        applyUpdate(turn, message.update);
        if (live?.turn === turn) live.took(message.update);
        if (state) status.textContent = statusLine(state.status);
        // Many deltas per frame while streaming: redraw once per frame.
        frame ||= requestAnimationFrame(rerenderLastTurn);
      }
      break;
    }
    case 'focus':
      input.focus();
      break;
    case 'files':
      composer.showItems(message.query, message.items);
      break;
  }
});

function send(): void {
  const text = input.value;
  if (!text.trim() || sendButton.disabled) return;
  post({ type: 'send', text });
  input.value = '';
}

sendButton.addEventListener('click', send);
cancelButton.addEventListener('click', () => post({ type: 'cancel' }));
attachButton.addEventListener('click', () => post({ type: 'attachActive' }));
newButton.addEventListener('click', () => post({ type: 'newChat' }));
input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && !composer.open) {
    event.preventDefault();
    send();
  }
});
// Esc anywhere in the chat stops the running turn.
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && !event.isComposing && !event.defaultPrevented && state?.status === 'running') {
    event.preventDefault();
    post({ type: 'cancel' });
  }
});

post({ type: 'ready' });
