import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { expandPath, findServer } from '../../src/serverPath';

function executable(file: string): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\n');
  fs.chmodSync(file, 0o755);
  return file;
}

test('the setting wins; a missing configured path is reported, not replaced', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caw-path-'));
  const configured = executable(path.join(dir, 'bin/my-caw'));
  executable(path.join(dir, '.venv/bin/caw-server'));
  assert.equal(findServer(configured, [dir], '').path, configured);
  assert.equal(findServer('bin/my-caw', [dir], '').path, configured, 'relative to the workspace folder');
  const missing = findServer(path.join(dir, 'nope'), [dir], '');
  assert.equal(missing.path, undefined);
  assert.equal(missing.badSetting, path.join(dir, 'nope'));
});

test("then the workspace's virtual environment, then PATH", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caw-path-'));
  const onPath = executable(path.join(dir, 'elsewhere/caw-server'));
  const ws = path.join(dir, 'ws');
  fs.mkdirSync(ws);
  assert.equal(findServer('', [ws], path.dirname(onPath)).path, onPath);
  const venv = executable(path.join(ws, 'venv/bin/caw-server'));
  assert.equal(findServer('', [ws], path.dirname(onPath)).path, venv);
  const dotVenv = executable(path.join(ws, '.venv/bin/caw-server'));
  assert.equal(findServer('', [ws], path.dirname(onPath)).path, dotVenv);
});

test('nothing found: says where it looked', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'caw-path-'));
  const result = findServer('', [dir], dir);
  assert.equal(result.path, undefined);
  assert.ok(result.tried.includes(path.join(dir, '.venv/bin/caw-server')));
  assert.ok(result.tried.some((t) => t.includes('PATH')));
});

test('expandPath: ~ and ${workspaceFolder}', () => {
  assert.equal(expandPath('~/x'), path.join(os.homedir(), 'x'));
  assert.equal(expandPath('${workspaceFolder}/.venv/bin/caw-server', '/ws'), '/ws/.venv/bin/caw-server');
});
