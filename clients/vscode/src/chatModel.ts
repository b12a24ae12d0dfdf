// What the chat view shows, shared by the extension (which owns it) and the
// webview (which renders it and applies streamed updates between redraws).
import type { PermissionCard, PermissionChoice } from './permissions';
import type { Block, Turn, Update, Usage, UsageLimitWait } from './protocol';

/** A turn's usage; protocol 1.2 adds the context size after the turn and the model's window. */
export type ViewUsage = Usage & { contextTokens?: number | null; contextWindow?: number | null };

/** A file the turn changed (protocol 1.2, sessions started with trackChanges). */
export interface FileChange {
  path: string;
  status: 'added' | 'modified' | 'deleted';
}

/** A file or range sent with the turn's message. */
export interface AttachmentRef {
  uri: string;
  name?: string | null;
}

export interface ViewTurn {
  input: string;
  output: Block[];
  /** Still streaming. */
  running: boolean;
  stopReason?: 'end_turn' | 'cancelled' | 'error' | 'interrupted';
  error?: string | null;
  usage?: ViewUsage;
  changes?: FileChange[];
  attachments?: AttachmentRef[];
  /** The turn's number in the session, from 1 (its index + 1; session/changes and session/revert take it). */
  number?: number;
  /** Its changes were reverted in this window. */
  reverted?: boolean;
  /** The daemon waits for the account's usage limit to reset, then sends the turn again (auto-wait). */
  wait?: UsageWait;
  /** What a usage-limit wait came to: sent again after it, or stopped (then `waitStopped`). */
  waitNote?: string;
  waitStopped?: boolean;
}

/** A `usageLimitWait` update, kept on its turn: the daemon sends the turn again at `resetsAt` (UTC, ISO 8601). */
export type UsageWait = Required<Omit<UsageLimitWait, 'kind'>>;

export type Entry = { kind: 'turn'; turn: ViewTurn } | { kind: 'notice'; level: NoticeLevel; text: string; retry?: boolean };
export type NoticeLevel = 'info' | 'warning' | 'error';

export type ChatStatus = 'empty' | 'starting' | 'idle' | 'running' | 'reconnecting' | 'ended' | 'failed';

export interface ChatViewState {
  folderName: string;
  /** The folder's uri: a restored view finds its chat by it. */
  folderUri?: string;
  status: ChatStatus;
  provider?: string;
  model?: string | null;
  sessionId?: string;
  title?: string;
  entries: Entry[];
  /** Permission questions waiting for an answer (shown as cards above the composer). */
  permissions?: PermissionCard[];
  reasoning?: string | null;
  /** Files and ranges attached to the next message. */
  attachments?: { label: string; uri: string }[];
  /** Each provider's models, for the header's picker (protocol 1.2). */
  models?: { provider: string; models: { id: string; name: string; reasoningLevels: string[]; isDefault: boolean }[] }[];
}

/** An entry of the @ completion. */
export interface FileItem {
  label: string;
  uri: string;
  detail?: string;
}

export type ToWebview =
  | { type: 'state'; state: ChatViewState }
  | { type: 'update'; update: Update }
  | { type: 'focus' }
  /** Said once to screen readers (an answer finished, a turn failed). */
  | { type: 'announce'; text: string }
  | { type: 'files'; query: string; items: FileItem[] };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; text: string }
  | { type: 'cancel' }
  | { type: 'retry' }
  | { type: 'openChange'; turn: number; path: string }
  | { type: 'revert'; turn: number }
  | { type: 'openAttachment'; uri: string }
  | { type: 'detach'; index: number }
  | { type: 'attachActive' }
  | { type: 'findFiles'; query: string }
  | { type: 'pick'; item: FileItem }
  | { type: 'configure'; model?: string; reasoning?: string }
  | { type: 'switchProvider'; provider: string }
  | { type: 'code'; action: CodeAction; code: string; language?: string; file?: string }
  | { type: 'newChat' }
  | { type: 'permission'; id: string; choice: PermissionChoice };

/** What a code block's buttons do. */
export type CodeAction = 'copy' | 'insert' | 'apply';

/** Turn with protocol 1.2's fields, read when the daemon sends them. */
type Turn12 = Omit<Turn, 'error'> & {
  status?: 'completed' | 'failed' | 'cancelled';
  error?: string | { kind?: string; message?: string } | null;
  changes?: FileChange[];
  attachments?: AttachmentRef[];
};

export function viewTurn(turn: Turn): ViewTurn {
  const t = turn as Turn12;
  const message = typeof t.error === 'string' ? t.error : (t.error?.message ?? null);
  // A stored usage-limit failure names the setting too, as the live one does.
  const error = typeof t.error === 'object' && t.error?.kind === 'usageLimit' && message ? usageLimitError(message) : message;
  const failed = t.status === 'failed' || turn.stopReason === 'error';
  return {
    input: turn.input,
    output: (turn.output ?? []).map((b) => ({ ...b })),
    running: false,
    stopReason: failed ? 'error' : t.status === 'cancelled' ? 'cancelled' : (turn.stopReason ?? 'end_turn'),
    error,
    ...(turn.usage ? { usage: { ...turn.usage } } : {}),
    ...(t.changes?.length ? { changes: t.changes.map((c) => ({ path: c.path, status: c.status })) } : {}),
    ...(t.attachments?.length ? { attachments: t.attachments.map((a) => ({ uri: a.uri, name: optional(a.name) ?? null })) } : {}),
    ...(typeof turn.index === 'number' ? { number: turn.index + 1 } : {}),
  };
}

/** Widens a field that older and newer protocol types spell differently (required in one, optional in the other). */
export function optional<T>(value: T | null | undefined): T | null | undefined {
  return value;
}

function count(n: number): string {
  return n >= 10_000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(n);
}

export function dollars(usd: number): string {
  if (usd > 0 && usd < 0.01) return `$${usd.toFixed(4)}`;
  return usd < 1 ? `$${usd.toFixed(3)}` : `$${usd.toFixed(2)}`;
}

/** One turn's tokens and cost, e.g. "1.2k in · 340 out · $0.0123". */
export function usageLabel(usage: ViewUsage | undefined): string {
  if (!usage) return '';
  const parts = [`${count(usage.inputTokens ?? 0)} in`, `${count(usage.outputTokens ?? 0)} out`];
  const cached = (usage.cacheReadTokens ?? 0) + (usage.cacheWriteTokens ?? 0);
  if (cached) parts.push(`${count(cached)} cached`);
  if (typeof usage.costUsd === 'number') parts.push(dollars(usage.costUsd));
  return parts.join(' · ');
}

export interface ChatTotals {
  tokens: number;
  /** Undefined when no turn reported a cost. */
  costUsd?: number;
  /** From the last turn that reported both. */
  context?: { used: number; window: number; share: number };
}

/** The chat's totals for its header: tokens, cost, and how full the context window is. */
export function chatTotals(entries: Entry[]): ChatTotals {
  const totals: ChatTotals = { tokens: 0 };
  for (const e of entries) {
    const u = e.kind === 'turn' ? e.turn.usage : undefined;
    if (!u) continue;
    totals.tokens += (u.inputTokens ?? 0) + (u.outputTokens ?? 0) + (u.cacheReadTokens ?? 0) + (u.cacheWriteTokens ?? 0);
    if (typeof u.costUsd === 'number') totals.costUsd = (totals.costUsd ?? 0) + u.costUsd;
    if (u.contextTokens && u.contextWindow) {
      totals.context = { used: u.contextTokens, window: u.contextWindow, share: Math.min(1, u.contextTokens / u.contextWindow) };
    }
  }
  return totals;
}

export function totalsLabel(t: ChatTotals): string {
  if (!t.tokens && t.costUsd === undefined) return '';
  return [`${count(t.tokens)} tokens`, t.costUsd === undefined ? undefined : dollars(t.costUsd)].filter(Boolean).join(' · ');
}

/** "1 h 5 min", "42 min". */
export function aboutMinutes(minutes: number): string {
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return m ? `${h} h ${m} min` : `${h} h`;
}

/** The local clock time of `at` in the user's locale, with the weekday when it is not today. */
export function clockTime(at: Date, now: Date): string {
  const time = at.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
  return at.toDateString() === now.toDateString() ? time : `${at.toLocaleDateString(undefined, { weekday: 'short' })} ${time}`;
}

/** The line the chat shows while the daemon waits for a usage limit to reset. */
export function usageLimitWaitText(wait: UsageWait, now = new Date()): string {
  const at = new Date(wait.resetsAt);
  const known = !Number.isNaN(at.getTime());
  const minutes = known ? Math.max(1, Math.ceil((at.getTime() - now.getTime()) / 60_000)) : wait.waitMinutes;
  return (
    `Usage limit reached — waiting until ${known ? clockTime(at, now) : 'it resets'} (about ${aboutMinutes(minutes)}), ` +
    'then sending again. Cancel (Esc) stops waiting.'
  );
}

/** The note a wait leaves once the turn was sent again. */
export function waitedText(wait: UsageWait, now = new Date()): string {
  const at = new Date(wait.resetsAt);
  return `Usage limit: waited until ${Number.isNaN(at.getTime()) ? 'it reset' : clockTime(at, now)}, then sent again.`;
}

export const WAIT_STOPPED = 'Stopped waiting for the usage limit to reset: the message was not sent again.';

/** A `usageLimit` failure (auto-wait off) and the setting that would have waited it out. */
export function usageLimitError(message: string): string {
  const said = message.trim();
  return `${said}${/[.!?]$/.test(said) ? '' : '.'} Turn on the "caw.autoWait" setting to wait for the reset and send again automatically.`;
}

/** Applies one streamed event to the running turn, as the daemon's core assembles it. */
export function applyUpdate(turn: ViewTurn, update: Update): void {
  if (update.kind === 'usageLimitWait') {
    // The whole turn is sent again after the wait: what this attempt streamed is void.
    turn.output.length = 0;
    delete turn.usage;
    turn.wait = { waitMinutes: update.waitMinutes, resetsAt: update.resetsAt, message: update.message ?? '' };
    return;
  }
  if (turn.wait && (update.kind === 'text' || update.kind === 'thinking' || update.kind === 'toolCall')) endWait(turn);
  if ((update.kind === 'text' || update.kind === 'thinking') && update.replace) {
    // The CLI retried a response that broke off: what that one streamed is void.
    while (turn.output.length && turn.output.at(-1)?.type !== 'tool_use') turn.output.pop();
    if (!update.text) return;
  }
  const last = turn.output.at(-1);
  switch (update.kind) {
    case 'text':
      if (last?.type === 'text') last.text += update.text;
      else turn.output.push({ type: 'text', text: update.text });
      break;
    case 'thinking':
      if (last?.type === 'thinking') last.text += update.text;
      else turn.output.push({ type: 'thinking', text: update.text });
      break;
    case 'toolCall':
      turn.output.push({ type: 'tool_use', id: update.id, name: update.name, input: update.input ?? {} });
      break;
    case 'toolResult': {
      let call = turn.output.find((b) => b.type === 'tool_use' && b.id === update.id);
      if (call?.type !== 'tool_use') {
        // A result whose call we never saw still belongs in the record.
        call = { type: 'tool_use', id: update.id, name: '' };
        turn.output.push(call);
      }
      call.output = update.output ?? '';
      call.isError = update.isError ?? false;
      break;
    }
    case 'usage':
      turn.usage = { ...update.usage };
      break;
  }
}

/** The wait is over: the turn was sent again (or, `stopped`, the user ended the wait). */
export function endWait(turn: ViewTurn, stopped = false): void {
  if (!turn.wait) return;
  turn.waitNote = stopped ? WAIT_STOPPED : waitedText(turn.wait);
  if (stopped) turn.waitStopped = true;
  delete turn.wait;
}

/** The last turn still streaming, if any. */
export function runningTurn(entries: Entry[]): ViewTurn | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i];
    if (e.kind === 'turn') return e.turn.running ? e.turn : undefined;
  }
  return undefined;
}
