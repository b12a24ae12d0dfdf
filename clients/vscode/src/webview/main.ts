// The chat page. Rendered from the extension's ChatViewState; streamed updates
// are applied locally between full states. Markdown goes through markdown-it
// with raw HTML off, so agent output cannot inject markup or script.
import MarkdownIt from 'markdown-it';
import { applyUpdate, type ChatViewState, type Entry, type FromWebview, type ToWebview, type ViewTurn } from '../chatModel';
import type { Block } from '../protocol';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void };

const vscode = acquireVsCodeApi();
const md = new MarkdownIt({ html: false, linkify: true, breaks: false });

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

let state: ChatViewState | undefined;
let lastTurnNode: HTMLElement | undefined;
let frame = 0;

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
  const agent = el('div', `message assistant${turn.running ? ' running' : ''} stop-${turn.stopReason ?? 'none'}`);
  agent.append(el('div', 'role', state?.provider ?? 'agent'));
  const body = el('div', 'body');
  for (const block of turn.output) body.append(renderBlock(block));
  if (turn.running && !turn.output.length) body.append(el('div', 'waiting', 'Waiting for the agent…'));
  if (turn.running) body.append(el('span', 'cursor'));
  agent.append(body);
  if (turn.stopReason === 'cancelled') agent.append(el('div', 'turn-note', 'Cancelled.'));
  if (turn.stopReason === 'interrupted') agent.append(el('div', 'turn-note warning', turn.error ?? 'Interrupted.'));
  if (turn.stopReason === 'error') agent.append(el('div', 'turn-note error', turn.error ?? 'The turn failed.'));
  node.append(user, agent);
  return node;
}

function renderEntry(entry: Entry): HTMLElement {
  return entry.kind === 'turn' ? renderTurn(entry.turn) : el('div', `notice ${entry.level}`, entry.text);
}

function atBottom(): boolean {
  return transcript.scrollHeight - transcript.scrollTop - transcript.clientHeight < 40;
}

function render(): void {
  if (!state) return;
  const stick = atBottom();
  title.textContent = state.title && state.sessionId ? state.title : `caw · ${state.folderName}`;
  meta.textContent = [state.provider, state.model].filter(Boolean).join(' · ');
  status.textContent = statusText(state.status);
  status.className = `status-${state.status}`;
  document.body.dataset.status = state.status;
  transcript.replaceChildren();
  lastTurnNode = undefined;
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
  const node = renderTurn(turn);
  lastTurnNode.replaceWith(node);
  lastTurnNode = node;
  if (stick) transcript.scrollTop = transcript.scrollHeight;
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'state':
      state = message.state;
      render();
      break;
    case 'update': {
      const turn = lastTurn();
      if (turn?.running) {
        applyUpdate(turn, message.update);
        // Many deltas per frame while streaming: redraw once per frame.
        frame ||= requestAnimationFrame(rerenderLastTurn);
      }
      break;
    }
    case 'focus':
      input.focus();
      break;
  }
});

function send(): void {
  const text = input.value;
  if (!text.trim() || sendButton.disabled) return;
  vscode.postMessage({ type: 'send', text });
  input.value = '';
}

sendButton.addEventListener('click', send);
cancelButton.addEventListener('click', () => vscode.postMessage({ type: 'cancel' }));
newButton.addEventListener('click', () => vscode.postMessage({ type: 'newChat' }));
input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    send();
  }
});

vscode.postMessage({ type: 'ready' });
