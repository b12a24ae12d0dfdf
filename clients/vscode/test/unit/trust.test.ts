import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
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

test('the extension stays off in Restricted Mode (the e2e in trust.e2e.test.ts shows it)', () => {
  type Manifest = { capabilities?: { untrustedWorkspaces?: { supported?: unknown; description?: string } } };
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as Manifest;
  const declared = manifest.capabilities?.untrustedWorkspaces;
  assert.equal(declared?.supported, false);
  assert.match(declared.description ?? '', /trusted/);
});

test('no answer yet: the daemon decides; an answer is kept per folder and can be forgotten', async () => {
  const trust = new TrustDecisions(memory());
  assert.equal(trust.trusted('file:///ws'), undefined);
  await trust.remember('file:///ws', false);
  await trust.remember('file:///other', true);
  assert.equal(trust.trusted('file:///ws'), false);
  assert.equal(trust.trusted('file:///other'), true);
  await trust.forget('file:///ws');
  assert.equal(trust.trusted('file:///ws'), undefined);
  assert.equal(trust.trusted('file:///other'), true);
});

test('the question names the files', () => {
  const q = trustQuestion('ws', ['.claude/settings.json', '.mcp.json']);
  assert.match(q.message, /ws/);
  assert.match(q.detail, /\.claude\/settings\.json/);
  assert.match(q.detail, /\.mcp\.json/);
});
