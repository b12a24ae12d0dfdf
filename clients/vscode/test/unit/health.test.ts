import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { healthWarning } from '../../src/health';

test("caw doctor's signals become one sentence before the first turn", () => {
  assert.equal(healthWarning(undefined), undefined);
  assert.equal(healthWarning({ provider: 'codex', installed: true, auth: { present: true } }), undefined);
  assert.match(healthWarning({ provider: 'codex', installed: false }) ?? '', /codex's CLI is not installed/);
  assert.match(healthWarning({ provider: 'claude_code', installed: true, auth: { present: false, detail: 'no credentials file' } }) ?? '', /does not look logged in \(no credentials file\)/);
  assert.match(healthWarning({ provider: 'claude_code', installed: true, auth: { present: true, tokenExpired: true } }) ?? '', /login has expired/);
  assert.match(healthWarning({ provider: 'opencode', installed: true, rateLimited: true, waitMinutes: 4.2 }) ?? '', /rate limited for about 5 min/);
});
