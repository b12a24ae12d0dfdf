import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  aboutMinutes,
  applyUpdate,
  chatTotals,
  endWait,
  runningTurn,
  totalsLabel,
  usageLabel,
  usageLimitError,
  usageLimitWaitText,
  type ViewTurn,
  viewTurn,
  WAIT_STOPPED,
} from '../../src/chatModel';
import type { Turn } from '../../src/protocol';

test('streamed updates assemble into blocks like the daemon assembles a turn', () => {
  const turn: ViewTurn = { input: 'hi', output: [], running: true };
  applyUpdate(turn, { kind: 'thinking', text: 'let me ' });
  applyUpdate(turn, { kind: 'thinking', text: 'see' });
  applyUpdate(turn, { kind: 'text', text: 'Run' });
  applyUpdate(turn, { kind: 'text', text: 'ning:' });
  applyUpdate(turn, { kind: 'toolCall', id: 't1', name: 'Bash', input: { command: 'echo hi' } });
  applyUpdate(turn, { kind: 'toolResult', id: 't1', output: 'hi', isError: false });
  applyUpdate(turn, { kind: 'usage', usage: { totalTokens: 3 } });
  applyUpdate(turn, { kind: 'text', text: 'Tool said: hi' });
  assert.deepEqual(turn.output, [
    { type: 'thinking', text: 'let me see' },
    { type: 'text', text: 'Running:' },
    { type: 'tool_use', id: 't1', name: 'Bash', input: { command: 'echo hi' }, output: 'hi', isError: false },
    { type: 'text', text: 'Tool said: hi' },
  ]);
});

test('a tool result whose call was not seen is still shown', () => {
  const turn: ViewTurn = { input: 'x', output: [], running: true };
  applyUpdate(turn, { kind: 'toolResult', id: 't9', output: 'x', isError: true });
  assert.deepEqual(turn.output, [{ type: 'tool_use', id: 't9', name: '', output: 'x', isError: true }]);
});

test('replace voids the text and thinking streamed since the last tool call', () => {
  const turn: ViewTurn = { input: 'x', output: [], running: true };
  applyUpdate(turn, { kind: 'text', text: 'before tool' });
  applyUpdate(turn, { kind: 'toolCall', id: 't1', name: 'Bash', input: {} });
  applyUpdate(turn, { kind: 'thinking', text: 'hmm' });
  applyUpdate(turn, { kind: 'text', text: 'broken off mid-str' });
  applyUpdate(turn, { kind: 'text', text: 'Fresh', replace: true });
  applyUpdate(turn, { kind: 'text', text: ' answer' });
  assert.deepEqual(turn.output, [
    { type: 'text', text: 'before tool' },
    { type: 'tool_use', id: 't1', name: 'Bash', input: {} },
    { type: 'text', text: 'Fresh answer' },
  ]);
  const empty: ViewTurn = { input: 'x', output: [{ type: 'text', text: 'void' }], running: true };
  applyUpdate(empty, { kind: 'thinking', text: '', replace: true });
  assert.deepEqual(empty.output, []);
});

test('viewTurn copies a finished turn', () => {
  const t = viewTurn({ input: 'q', output: [{ type: 'text', text: 'a' }], result: 'a', stopReason: 'end_turn', status: 'completed' } as unknown as Turn);
  assert.deepEqual(t, { input: 'q', output: [{ type: 'text', text: 'a' }], running: false, stopReason: 'end_turn', error: null });
});

test('a failed turn (protocol 1.2) keeps its error, changes, attachments and usage', () => {
  const t = viewTurn({
    index: 3,
    input: 'q',
    output: [],
    result: '',
    stopReason: 'error',
    status: 'failed',
    error: { kind: 'backendFailed', message: 'API Error: 400' },
    changes: [{ path: 'a.py', status: 'modified' }],
    attachments: [{ uri: 'file:///ws/a.py', name: 'a.py' }],
    usage: { inputTokens: 1200, outputTokens: 340, costUsd: 0.0123, totalTokens: 1540, contextTokens: 50_000, contextWindow: 200_000 },
  } as unknown as Turn);
  assert.equal(t.stopReason, 'error');
  assert.equal(t.error, 'API Error: 400');
  assert.equal(t.number, 4, 'index 3 is the fourth turn');
  assert.deepEqual(t.changes, [{ path: 'a.py', status: 'modified' }]);
  assert.deepEqual(t.attachments, [{ uri: 'file:///ws/a.py', name: 'a.py' }]);
  assert.equal(usageLabel(t.usage), '1.2k in · 340 out · $0.012');
});

test('a stored usage-limit failure (a resumed chat) names caw.autoWait, as a live one does', () => {
  const stored = (error: unknown): ViewTurn =>
    viewTurn({ input: 'q', output: [], result: '', stopReason: 'error', status: 'failed', error } as unknown as Turn);
  const limited = stored({ kind: 'usageLimit', message: "You've hit your limit · resets 2pm (UTC)" });
  assert.equal(limited.stopReason, 'error');
  assert.equal(limited.error, usageLimitError("You've hit your limit · resets 2pm (UTC)"));
  assert.match(limited.error ?? '', /^You've hit your limit · resets 2pm \(UTC\)\. Turn on the "caw\.autoWait" setting/);
  // Other kinds, and the older string error (no kind), stay as stored.
  assert.equal(stored({ kind: 'modelError', message: 'usage limit of tools' }).error, 'usage limit of tools');
  assert.equal(stored('API Error: 400').error, 'API Error: 400');
});

test('chat totals add up tokens and cost; the context meter comes from the last turn that reports it', () => {
  const turn = (usage: ViewTurn['usage']): { kind: 'turn'; turn: ViewTurn } => ({ kind: 'turn', turn: { input: '', output: [], running: false, usage } });
  const totals = chatTotals([
    turn({ inputTokens: 100, outputTokens: 50, costUsd: 0.5, totalTokens: 150, contextTokens: 1000, contextWindow: 10_000 }),
    { kind: 'notice', level: 'info', text: 'n' },
    turn({ inputTokens: 10, outputTokens: 5, cacheReadTokens: 5, totalTokens: 15 }),
  ]);
  assert.equal(totals.tokens, 170);
  assert.equal(totals.costUsd, 0.5);
  assert.deepEqual(totals.context, { used: 1000, window: 10_000, share: 0.1 });
  assert.equal(totalsLabel(totals), '170 tokens · $0.500');
  assert.equal(totalsLabel(chatTotals([])), '');
});

test('runningTurn finds only a last turn that still streams', () => {
  const running: ViewTurn = { input: 'b', output: [], running: true };
  assert.equal(runningTurn([{ kind: 'turn', turn: running }, { kind: 'notice', level: 'info', text: 'n' }]), running);
  assert.equal(runningTurn([{ kind: 'turn', turn: { ...running, running: false } }]), undefined);
  assert.equal(runningTurn([]), undefined);
});

test('a usage-limit wait voids the attempt, shows until when, and becomes a note when the answer streams', () => {
  const turn: ViewTurn = { input: 'x', output: [], running: true };
  applyUpdate(turn, { kind: 'text', text: 'API Error: usage limit reached' }); // the CLI's copy of the error
  const resetsAt = new Date(Date.UTC(2026, 10, 30, 14, 5)).toISOString();
  applyUpdate(turn, { kind: 'usageLimitWait', waitMinutes: 42, resetsAt, message: 'usage limit reached' });
  assert.deepEqual(turn.output, []);
  assert.deepEqual(turn.wait, { waitMinutes: 42, resetsAt, message: 'usage limit reached' });
  applyUpdate(turn, { kind: 'usage', usage: { totalTokens: 1 } }); // not the answer yet
  assert.ok(turn.wait);
  applyUpdate(turn, { kind: 'text', text: 'still here' });
  assert.equal(turn.wait, undefined);
  assert.deepEqual(turn.output, [{ type: 'text', text: 'still here' }]);
  const clock = new Date(resetsAt).toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
  assert.match(turn.waitNote ?? '', new RegExp(`^Usage limit: waited until (\\w+ )?${clock}, then sent again\\.$`));
  assert.equal(turn.waitStopped, undefined);
});

test('the waiting line: local clock time of resetsAt, minutes from now, how to stop', () => {
  const now = new Date(2026, 10, 30, 13, 23, 10); // local time
  const at = new Date(now.getTime() + 41.5 * 60_000);
  const wait = { waitMinutes: 47, resetsAt: at.toISOString(), message: '' };
  const clock = at.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
  assert.equal(
    usageLimitWaitText(wait, now),
    `Usage limit reached — waiting until ${clock} (about 42 min), then sending again. Cancel (Esc) stops waiting.`,
  );
  // Hours, another day (the weekday is named), an unreadable time (the daemon's minutes).
  const later = new Date(now.getTime() + 26 * 3_600_000 + 5 * 60_000);
  const text = usageLimitWaitText({ ...wait, resetsAt: later.toISOString() }, now);
  assert.ok(text.includes(`${later.toLocaleDateString(undefined, { weekday: 'short' })} `), text);
  assert.ok(text.includes('(about 26 h 5 min)'), text);
  assert.ok(usageLimitWaitText({ ...wait, resetsAt: 'soon' }, now).includes('until it resets (about 47 min)'));
  assert.equal(aboutMinutes(60), '1 h');
});

test('a wait the user stopped, and a usage-limit failure that names the setting', () => {
  const turn: ViewTurn = { input: 'x', output: [], running: true };
  applyUpdate(turn, { kind: 'usageLimitWait', waitMinutes: 5, resetsAt: new Date().toISOString() });
  endWait(turn, true);
  assert.equal(turn.wait, undefined);
  assert.equal(turn.waitNote, WAIT_STOPPED);
  assert.equal(turn.waitStopped, true);
  assert.equal(
    usageLimitError('usage limit reached: you have reached your usage limit for this period\n'),
    'usage limit reached: you have reached your usage limit for this period. Turn on the "caw.autoWait" setting to wait for the reset and send again automatically.',
  );
});
