// Restricted Mode (VS Code's workspace trust), inside a real VS Code (code-server, headless
// chromium) with the real daemon, the real claude CLI and caw's scripted model server.
// The folder opens untrusted; its own .vscode/settings.json points caw.serverPath at a script
// in the folder (it notes that it ran, then runs the real caw-server). The extension declares
// no `capabilities.untrustedWorkspaces`, so VS Code keeps it off in Restricted Mode: no caw
// status item, no caw command in the palette, nothing of the folder runs (no process in it, the
// folder's caw-server never started). The person then trusts the folder through VS Code's own
// UI (the palette's "Manage Workspace Trust", the editor's Trust button); the extension comes up
// without a reload, and a chat answers with the scripted model's reply.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { checkedScreenshot, config, freePort, log, ModelServer, prepareWorkbench, processesIn, until, vsixWindow } from './harness';

let model: ModelServer;
let root: string;
const timeout = config.timeoutMs;

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'caw-vscode-trust-'));
  model = await ModelServer.startRecording(path.join(root, 'requests.jsonl'));
  log(`model server ${model.url}, root ${root}`);
});

after(async () => {
  await model.stop();
  if (process.env.CAW_E2E_KEEP !== '1') fs.rmSync(root, { recursive: true, force: true });
});

/** The daemon and agent CLIs running in `dir` (code-server and its extension host run there too). */
function agentsIn(dir: string): { pid: number; cmdline: string }[] {
  return processesIn(dir).filter((p) => /caw-server|claude|codex|opencode/.test(p.cmdline));
}

test('Restricted Mode keeps caw off until the folder is trusted through VS Code; then a chat answers', async () => {
  const started = Date.now();
  fs.mkdirSync(config.outputDir, { recursive: true });
  const env = model.cliEnvironment(path.join(root, 'cli'), 'claude_code');
  const settings = {
    'security.workspace.trust.enabled': true,
    'caw.dataDir': path.join(root, 'caw-data'),
    'caw.provider': 'claude_code',
    'caw.permissionMode': 'bypass',
  };
  const wb = prepareWorkbench(root, 'restricted', env, settings, await freePort());
  // The folder's own choice of daemon: code from the folder, which only trust may run.
  const marker = path.join(root, 'folder-server-ran');
  const script = path.join(wb.folder, 'tools', 'caw-server');
  fs.mkdirSync(path.dirname(script));
  fs.writeFileSync(script, `#!/bin/sh\necho "$$" >> '${marker}'\nexec '${config.cawServer}' "$@"\n`, { mode: 0o755 });
  fs.mkdirSync(path.join(wb.folder, '.vscode'));
  fs.writeFileSync(path.join(wb.folder, '.vscode', 'settings.json'), JSON.stringify({ 'caw.serverPath': '${workspaceFolder}/tools/caw-server' }));

  await vsixWindow(wb, 'trust', () => model.log, async (b) => {
    const page = b.page;
    // code-server asks at startup, as desktop VS Code does; the person says no.
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout });
    log(`startup dialog: ${(await dialog.innerText()).replace(/\s+/g, ' ')}`);
    await dialog.locator('.monaco-button', { hasText: /^No, I don't trust the authors$/ }).click();
    await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout });
    await page.screenshot({ path: path.join(config.outputDir, 'trust-restricted.png') });

    // Restricted: the palette offers VS Code's own commands but no caw command (contributed
    // commands show there before activation, so this does not race the extension host).
    await page.locator('.monaco-workbench').focus();
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input.input');
    await input.waitFor({ state: 'visible', timeout });
    const row = (text: string) => page.locator('.quick-input-list .monaco-list-row', { hasText: text });
    await input.fill('>Manage Workspace Trust');
    await row('Manage Workspace Trust').first().waitFor({ timeout });
    await input.fill('>caw:');
    await row('Manage Workspace Trust').first().waitFor({ state: 'detached', timeout });
    const rows = await page.locator('.quick-input-list .monaco-list-row').allInnerTexts();
    assert.ok(!rows.some((r) => /caw: /.test(r)), `caw commands offered in Restricted Mode: ${JSON.stringify(rows)}`);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('.statusbar-item', { hasText: /^caw/ }).count(), 0, 'a caw status item in Restricted Mode');
    assert.deepEqual(agentsIn(wb.folder), [], 'a caw-server or CLI process in the folder while restricted');
    assert.ok(!fs.existsSync(marker), "the folder's caw.serverPath ran while restricted");

    // Trust the folder as a person does: the palette, then the Trust button in VS Code's editor.
    await b.runCommand('Workspaces: Manage Workspace Trust');
    const editor = page.locator('.workspace-trust-editor');
    const trustButton = editor.locator('.monaco-button', { hasText: /^Trust( Folder)?$/ }).first();
    await trustButton.waitFor({ timeout });
    log(`trust editor: ${(await editor.innerText()).replace(/\s+/g, ' ').slice(0, 1500)}`);
    await page.screenshot({ path: path.join(config.outputDir, 'trust-editor.png') });
    await trustButton.click();
    await page.locator('.statusbar-item', { hasText: 'caw' }).first().waitFor({ timeout });
    assert.equal(await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).count(), 0);

    // Trusted: the chat works, with the folder's own caw-server.
    const chat = b.chat();
    await b.runCommand('caw: New Chat');
    await chat.locator('body[data-status="idle"]').waitFor({ timeout });
    await b.page.keyboard.press('Control+Alt+k');
    await chat.locator('#input:focus').waitFor({ timeout });
    await b.page.keyboard.type('Repeat after me: trusted now');
    await b.page.keyboard.press('Enter');
    assert.match((await b.answers(1))[0], /trusted now/);
    assert.ok(fs.existsSync(marker), "the folder's caw.serverPath did not run once trusted");
    assert.equal(await chat.locator('.notice', { hasText: 'Restricted Mode' }).count(), 0);
    await until('the daemon in the folder', () => agentsIn(wb.folder).some((p) => /caw-server/.test(p.cmdline)));
    await checkedScreenshot(b, 'trust-trusted');
  });
  log(`trust test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
