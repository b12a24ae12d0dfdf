import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrustDecisions, trustQuestion } from '../../src/trust';

function memory(): { get(k: string): unknown; update(k: string, v: unknown): Promise<void> } {
  const data = new Map<string, unknown>();
  return {
    get: (k) => data.get(k),
    update: (k, v) => {
      data.set(k, v);
      return Promise.resolve();
    },
  };
}

test('Restricted Mode always starts without project configuration', async () => {
  const trust = new TrustDecisions(memory());
  assert.equal(trust.trusted('file:///ws', false), false);
  await trust.remember('file:///ws', true);
  assert.equal(trust.trusted('file:///ws', false), false, 'a stored Trust does not beat Restricted Mode');
});

test('no answer yet: the daemon decides; an answer is kept per folder and can be forgotten', async () => {
  const trust = new TrustDecisions(memory());
  assert.equal(trust.trusted('file:///ws', true), undefined);
  await trust.remember('file:///ws', false);
  await trust.remember('file:///other', true);
  assert.equal(trust.trusted('file:///ws', true), false);
  assert.equal(trust.trusted('file:///other', true), true);
  await trust.forget('file:///ws');
  assert.equal(trust.trusted('file:///ws', true), undefined);
  assert.equal(trust.trusted('file:///other', true), true);
});

test('the question names the files', () => {
  const q = trustQuestion('ws', ['.claude/settings.json', '.mcp.json']);
  assert.match(q.message, /ws/);
  assert.match(q.detail, /\.claude\/settings\.json/);
  assert.match(q.detail, /\.mcp\.json/);
});
