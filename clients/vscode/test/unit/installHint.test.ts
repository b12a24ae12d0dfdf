import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { INSTALL_COMMAND, PIPX_COMMAND, serverNotFoundMessage, withHint } from '../../src/installHint';

const root = path.resolve(__dirname, '../../..'); // bundled to out/test/unit -> clients/vscode

test('the hint names the distribution that has caw-server', () => {
  assert.equal(INSTALL_COMMAND, 'pip install coding-agent-wrapper');
  assert.equal(PIPX_COMMAND, 'pipx install coding-agent-wrapper');
  const message = serverNotFoundMessage(['/ws/.venv/bin/caw-server', 'caw-server on PATH']);
  assert.equal(message.split(INSTALL_COMMAND).length - 1, 1, `once: ${message}`);
  assert.doesNotMatch(message, /pip install caw\b/);
});

test('a hint the message already carries is not appended again', () => {
  const hint = 'Install Claude Code: npm install -g @anthropic-ai/claude-code';
  assert.equal(withHint(`claude not found: ${hint}`, hint), `claude not found: ${hint}`);
  assert.equal(withHint('claude not found.', hint), `claude not found. ${hint}`);
  assert.equal(withHint('x', null), 'x');
});

test('no install hint in the extension says `pip install caw`', () => {
  const files = ['README.md', 'package.json', ...walk(path.join(root, 'src')), ...walk(path.join(root, 'media'))];
  const wrong: string[] = [];
  for (const file of files) {
    const text = fs.readFileSync(path.resolve(root, file), 'utf8');
    if (/pipx? install caw(?![-\w])/.test(text)) wrong.push(file);
  }
  assert.deepEqual(wrong, []);
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  assert.ok(readme.includes(INSTALL_COMMAND), 'the README gives the install command');
});

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && /\.(ts|md|json|html)$/.test(d.name))
    .map((d) => path.join(d.parentPath, d.name));
}
