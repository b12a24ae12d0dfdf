import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyUpdate, runningTurn, type ViewTurn, viewTurn } from '../../src/chatModel';

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
  const t = viewTurn({ input: 'q', output: [{ type: 'text', text: 'a' }], result: 'a', stopReason: 'end_turn' });
  assert.deepEqual(t, { input: 'q', output: [{ type: 'text', text: 'a' }], running: false, stopReason: 'end_turn', error: null });
});

test('runningTurn finds only a last turn that still streams', () => {
  const running: ViewTurn = { input: 'b', output: [], running: true };
  assert.equal(runningTurn([{ kind: 'turn', turn: running }, { kind: 'notice', level: 'info', text: 'n' }]), running);
  assert.equal(runningTurn([{ kind: 'turn', turn: { ...running, running: false } }]), undefined);
  assert.equal(runningTurn([]), undefined);
});
