// What the chat view shows, shared by the extension (which owns it) and the
// webview (which renders it and applies streamed updates between redraws).
import type { PermissionCard, PermissionChoice } from './permissions';
import type { Block, Turn, Update } from './protocol';

export interface ViewTurn {
  input: string;
  output: Block[];
  /** Still streaming. */
  running: boolean;
  stopReason?: 'end_turn' | 'cancelled' | 'error' | 'interrupted';
  error?: string | null;
}

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
}

export type ToWebview =
  | { type: 'state'; state: ChatViewState }
  | { type: 'update'; update: Update }
  | { type: 'focus' }
  /** Said once to screen readers (an answer finished, a turn failed). */
  | { type: 'announce'; text: string };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; text: string }
  | { type: 'cancel' }
  | { type: 'retry' }
  | { type: 'code'; action: CodeAction; code: string; language?: string; file?: string }
  | { type: 'newChat' }
  | { type: 'permission'; id: string; choice: PermissionChoice };

/** What a code block's buttons do. */
export type CodeAction = 'copy' | 'insert' | 'apply';

export function viewTurn(turn: Turn): ViewTurn {
  return {
    input: turn.input,
    output: (turn.output ?? []).map((b) => ({ ...b })),
    running: false,
    stopReason: turn.stopReason ?? 'end_turn',
    error: turn.error ?? null,
  };
}

/** Applies one streamed event to the running turn, as the daemon's core assembles it. */
export function applyUpdate(turn: ViewTurn, update: Update): void {
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
      break;
  }
}

/** The last turn still streaming, if any. */
export function runningTurn(entries: Entry[]): ViewTurn | undefined {
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i];
    if (e.kind === 'turn') return e.turn.running ? e.turn : undefined;
  }
  return undefined;
}
