// Permission questions (session/requestPermission, the Agent Client Protocol's
// shape): what the chat's card shows, and how a button becomes the answer.
// Nothing here imports 'vscode'.
import { diffLines } from 'diff';
import type { PermissionOption, RequestPermissionParams, RequestPermissionResult, RuleSpec } from './protocol';

/** The four buttons of a card. */
export type PermissionChoice = 'once' | 'chat' | 'workspace' | 'reject';

export const CHOICES: readonly { choice: PermissionChoice; label: string; kind: PermissionOption['kind'] }[] = [
  { choice: 'once', label: 'Allow once', kind: 'allow_once' },
  // The daemon remembers an allow_always for the session ("this chat").
  { choice: 'chat', label: 'Always for this chat', kind: 'allow_always' },
  // The same answer, and the extension keeps the rule for the workspace's next sessions.
  { choice: 'workspace', label: 'Always in this workspace', kind: 'allow_always' },
  { choice: 'reject', label: 'Reject', kind: 'reject_once' },
];

export function isChoice(value: unknown): value is PermissionChoice {
  return CHOICES.some((c) => c.choice === value);
}

export const CANCELLED: RequestPermissionResult = { outcome: { outcome: 'cancelled' } };

/**
 * The answer for a button: the offered option of its kind. An option the daemon
 * did not offer is never invented: the answer falls back to its reject option.
 */
export function outcomeFor(params: Pick<RequestPermissionParams, 'options'>, choice: PermissionChoice): RequestPermissionResult {
  const kind = CHOICES.find((c) => c.choice === choice)?.kind ?? 'reject_once';
  const option = params.options.find((o) => o.kind === kind) ?? params.options.find((o) => o.kind === 'reject_once');
  return option ? { outcome: { outcome: 'selected', optionId: option.optionId } } : CANCELLED;
}

/** The rule "Always in this workspace" keeps, or undefined for the other buttons. */
export function workspaceRule(params: Pick<RequestPermissionParams, 'alwaysRule'>, choice: PermissionChoice): RuleSpec | undefined {
  if (choice !== 'workspace') return undefined;
  return { tool: params.alwaysRule.tool, pattern: params.alwaysRule.pattern, action: 'allow' };
}

export interface DiffRow {
  type: 'add' | 'del' | 'ctx';
  text: string;
}

export interface CardDiff {
  path: string;
  /** The file does not exist yet. */
  created: boolean;
  rows: DiffRow[];
}

/** What the chat shows for one question. */
export interface PermissionCard {
  id: string;
  title: string;
  kind: string;
  /** The shell command, for a command. */
  command?: string;
  /** Each edited file's change, for an edit. */
  diffs: CardDiff[];
}

/** Line diff of one file's change (jsdiff), as rows of added, removed and unchanged lines. */
export function diffRows(oldText: string, newText: string): DiffRow[] {
  const rows: DiffRow[] = [];
  for (const part of diffLines(oldText, newText)) {
    const type: DiffRow['type'] = part.added ? 'add' : part.removed ? 'del' : 'ctx';
    const lines = part.value.replace(/\n$/, '').split('\n');
    for (const text of lines) rows.push({ type, text });
  }
  return rows;
}

function commandOf(input: Record<string, unknown> | undefined): string | undefined {
  const command = input?.command ?? input?.cmd;
  if (typeof command === 'string') return command;
  if (Array.isArray(command) && command.every((c) => typeof c === 'string')) return command.join(' ');
  return undefined;
}

export function permissionCard(id: string, params: RequestPermissionParams): PermissionCard {
  const call = params.toolCall;
  // Every content item the daemon sends is a diff (ACP's content may one day hold more).
  const diffs = (call.content ?? [])
    .filter((c) => (c.type as string) === 'diff')
    .map((c) => ({ path: c.path, created: c.oldText === null || c.oldText === undefined, rows: diffRows(c.oldText ?? '', c.newText) }));
  const command = diffs.length ? undefined : (commandOf(call.rawInput) ?? call.title);
  return { id, title: call.title, kind: call.kind, command, diffs };
}

/** The words a notification uses for what the agent wants to do. */
export function describeRequest(card: PermissionCard): string {
  if (card.diffs.length) return `edit ${card.diffs.map((d) => d.path).join(', ')}`;
  return card.kind === 'execute' ? `run \`${card.command ?? card.title}\`` : `${card.kind}: ${card.title}`;
}
