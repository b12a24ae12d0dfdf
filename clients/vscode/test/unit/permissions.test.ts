import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { PermissionRules, RULES_KEY } from '../../src/permissionRules';
import { CHOICES, describeRequest, diffRows, isChoice, outcomeFor, permissionCard, workspaceRule } from '../../src/permissions';
import type { PermissionOption, RequestPermissionParams } from '../../src/protocol';

const OPTIONS: PermissionOption[] = [
  { optionId: 'allow_once', name: 'Allow once', kind: 'allow_once' },
  { optionId: 'allow_always', name: 'Always allow', kind: 'allow_always' },
  { optionId: 'reject_once', name: 'Reject', kind: 'reject_once' },
  { optionId: 'reject_always', name: 'Always reject', kind: 'reject_always' },
];

function params(patch: Partial<RequestPermissionParams> = {}): RequestPermissionParams {
  return {
    sessionId: 's1',
    toolCall: { toolCallId: 't1', title: 'touch a.txt', kind: 'execute', status: 'pending', rawInput: { command: 'touch a.txt' } },
    options: OPTIONS,
    alwaysRule: { tool: 'Bash', pattern: 'touch a.txt', action: 'allow' },
    tool: 'Bash',
    ...patch,
  };
}

class MemoryState {
  data = new Map<string, unknown>();
  get(key: string): unknown {
    return this.data.get(key);
  }
  update(key: string, value: unknown): Promise<void> {
    this.data.set(key, JSON.parse(JSON.stringify(value)));
    return Promise.resolve();
  }
}

test('the four buttons answer allow_once, allow_always (chat and workspace) and reject_once', () => {
  assert.deepEqual(
    CHOICES.map((c) => [c.label, c.kind]),
    [
      ['Allow once', 'allow_once'],
      ['Always for this chat', 'allow_always'],
      ['Always in this workspace', 'allow_always'],
      ['Reject', 'reject_once'],
    ],
  );
  const answer = (choice: (typeof CHOICES)[number]['choice']) => outcomeFor(params(), choice).outcome;
  assert.deepEqual(answer('once'), { outcome: 'selected', optionId: 'allow_once' });
  assert.deepEqual(answer('chat'), { outcome: 'selected', optionId: 'allow_always' });
  assert.deepEqual(answer('workspace'), { outcome: 'selected', optionId: 'allow_always' });
  assert.deepEqual(answer('reject'), { outcome: 'selected', optionId: 'reject_once' });
});

test("option ids are the daemon's; an option not offered falls back to reject, none at all to cancelled", () => {
  const renamed = params({ options: OPTIONS.map((o) => ({ ...o, optionId: `opt-${o.kind}` })) });
  assert.deepEqual(outcomeFor(renamed, 'chat').outcome, { outcome: 'selected', optionId: 'opt-allow_always' });
  const onlyOnce = params({ options: [OPTIONS[0], OPTIONS[2]] });
  assert.deepEqual(outcomeFor(onlyOnce, 'workspace').outcome, { outcome: 'selected', optionId: 'reject_once' });
  assert.deepEqual(outcomeFor(params({ options: [] }), 'once').outcome, { outcome: 'cancelled' });
  assert.ok(isChoice('workspace') && !isChoice('allow_always') && !isChoice(undefined));
});

test('only "Always in this workspace" keeps a rule: the one the daemon names, as an allow', () => {
  assert.deepEqual(workspaceRule(params(), 'workspace'), { tool: 'Bash', pattern: 'touch a.txt', action: 'allow' });
  for (const choice of ['once', 'chat', 'reject'] as const) assert.equal(workspaceRule(params(), choice), undefined);
});

test('a command card shows the command; an edit card shows each file as a line diff', () => {
  const command = permissionCard('q1', params());
  assert.deepEqual(command, { id: 'q1', title: 'touch a.txt', kind: 'execute', command: 'touch a.txt', diffs: [] });
  assert.equal(describeRequest(command), 'run `touch a.txt`');
  const argv = permissionCard('q2', params({ toolCall: { ...params().toolCall, rawInput: { command: ['bash', '-lc', 'ls'] } } }));
  assert.equal(argv.command, 'bash -lc ls');

  const edit = permissionCard(
    'q3',
    params({
      toolCall: {
        toolCallId: 't2',
        title: 'Write a.py',
        kind: 'edit',
        status: 'pending',
        content: [
          { type: 'diff', path: '/w/a.py', oldText: 'x = 1\ny = 2\n', newText: 'x = 1\ny = 3\n' },
          { type: 'diff', path: '/w/new.txt', oldText: null, newText: 'hi\n' },
        ],
      },
    }),
  );
  assert.equal(edit.command, undefined);
  assert.deepEqual(edit.diffs[0], {
    path: '/w/a.py',
    created: false,
    rows: [
      { type: 'ctx', text: 'x = 1' },
      { type: 'del', text: 'y = 2' },
      { type: 'add', text: 'y = 3' },
    ],
  });
  assert.deepEqual(edit.diffs[1], { path: '/w/new.txt', created: true, rows: [{ type: 'add', text: 'hi' }] });
  assert.equal(describeRequest(edit), 'edit /w/a.py, /w/new.txt');
  assert.deepEqual(diffRows('same\n', 'same\n'), [{ type: 'ctx', text: 'same' }]);
});

test('workspace rules are kept per folder, once each, and damaged entries are skipped', async () => {
  const state = new MemoryState();
  const rules = new PermissionRules(state);
  const rule = { tool: 'Bash', pattern: 'touch a.txt', action: 'allow' as const };
  await Promise.all([rules.add('file:///a', rule), rules.add('file:///a', rule), rules.add('file:///b', { ...rule, pattern: 'make' })]);
  assert.deepEqual(rules.rules('file:///a'), [rule]);
  assert.deepEqual(rules.rules('file:///b'), [{ ...rule, pattern: 'make' }]);
  assert.deepEqual(rules.rules('file:///c'), []);

  state.data.set(RULES_KEY, { 'file:///a': [rule, { tool: 'Bash' }, 'x'], 'file:///b': 'nonsense' });
  assert.deepEqual(rules.rules('file:///a'), [rule]);
  assert.deepEqual(rules.rules('file:///b'), []);
  state.data.set(RULES_KEY, ['not', 'an', 'index']);
  assert.deepEqual(rules.rules('file:///a'), []);

  await rules.add('file:///a', rule);
  await rules.clear('file:///a');
  assert.deepEqual(rules.rules('file:///a'), []);
});
