// End to end inside a real VS Code (code-server 4.99.4) with the real daemon,
// the real claude CLI and caw's scripted model server. Each scenario drives the
// UI with playwright and runs a test module in the extension host that checks
// the extension's storage; its exit code comes back through codeAutomationExit.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  Browser,
  checkedScreenshot,
  CodeServer,
  config,
  descendants,
  extensionRoot,
  failureScreenshot,
  freePort,
  log,
  ModelServer,
  prepareWorkbench,
  processesIn,
  runWindow,
  until,
  type Workbench,
} from './harness';

for (const [what, file] of [
  ['code-server (run clients/vscode/scripts/install-e2e.sh)', config.codeServer],
  ['chromium (run clients/vscode/scripts/install-e2e.sh)', config.chromium],
  ['caw-server (pip install -e . in the repository venv)', config.cawServer],
  ['the extension build (npm run build)', path.join(extensionRoot, 'dist/extension.js')],
]) {
  if (!fs.existsSync(file)) throw new Error(`missing ${what}: ${file}`);
}

let model: ModelServer;
let root: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'caw-vscode-e2e-'));
  model = await ModelServer.start();
  env = model.cliEnvironment(path.join(root, 'cli'));
  log(`model server ${model.url}, root ${root}`);
});

after(async () => {
  await model.stop();
  if (process.env.CAW_E2E_KEEP !== '1') fs.rmSync(root, { recursive: true, force: true });
});

function workbench(name: string, port: number, settings: Record<string, unknown> = {}): Workbench {
  return prepareWorkbench(root, name, env, { 'caw.serverPath': config.cawServer, 'caw.dataDir': path.join(root, 'caw-data'), ...settings }, port);
}

/** One window: code-server up, a page running `step`'s in-host module; `drive` plays the user. */
function window(wb: Workbench, step: string, drive: (b: Browser, cs: CodeServer) => Promise<void>): Promise<void> {
  return runWindow(wb, step, () => model.log, drive);
}

describe('caw in VS Code', { concurrency: 1 }, () => {
  test('the packaged .vsix installs into a clean code-server and chats', async () => {
    const vsix = path.join(extensionRoot, 'dist/caw-vscode.vsix');
    assert.ok(fs.existsSync(vsix), `no ${vsix}: run \`npm run package\` first`);
    const wb = workbench('vsix', await freePort(), { 'caw.provider': 'claude_code' });
    const installed = CodeServer.install(wb, vsix);
    assert.match(installed, /was successfully installed/);
    assert.ok(fs.readdirSync(wb.extensionsDir).some((d) => d.startsWith('caw.caw-vscode-')), 'installed into the extensions dir');

    const cs = await CodeServer.start(wb);
    let browser: Browser | undefined;
    try {
      browser = await Browser.open(wb, cs);
      await browser.runCommand('caw: New Chat');
      const chat = browser.chat();
      // Markdown is rendered, raw HTML is not.
      await browser.say('Repeat after me: installed from the **vsix**, see `caw-server` <img src=x>');
      const answers = await browser.answers(1);
      assert.match(answers[0], /installed from the vsix, see caw-server <img src=x>/);
      assert.equal(await chat.locator('.message.assistant strong').first().innerText(), 'vsix');
      assert.equal(await chat.locator('.message.assistant code').first().innerText(), 'caw-server');
      assert.equal(await chat.locator('.message.assistant img').count(), 0, 'raw HTML stays text');
      // Thinking (collapsed) and a tool call with its result.
      await browser.say('[[think]] [[tool:bash:echo caw-tool-ok]] Run it.');
      const more = await browser.answers(2);
      assert.match(more[1], /Tool said: caw-tool-ok/);
      const tool = chat.locator('details.tool').first();
      assert.match(await tool.locator('summary').innerText(), /echo caw-tool-ok/);
      assert.match(await tool.locator('.tool-output').textContent() ?? '', /caw-tool-ok/);
      const thinking = chat.locator('details.thinking').first();
      assert.equal(await thinking.getAttribute('open'), null, 'thinking starts collapsed');
      await tool.locator('summary').click();
      const csp = (await chat.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content')) ?? '';
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /script-src 'nonce-[^']+'(;|$)/);
      assert.doesNotMatch(csp, /unsafe/);
      await checkedScreenshot(browser, 'vsix-chat');

      // Cancel: the button stops a streaming answer.
      await browser.say('[[slow:30]] Tell me a long story.');
      await chat.locator('.message.assistant.running .text').waitFor({ timeout: config.timeoutMs });
      await chat.locator('#cancel').click();
      await chat.locator('.message.assistant.stop-cancelled', { hasText: 'Cancelled.' }).waitFor({ timeout: config.timeoutMs });
      await chat.locator('body[data-status="idle"]').waitFor({ timeout: config.timeoutMs });

      // Send Selection: the selected lines go to the chat with where they come from.
      await browser.page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'README.md' }).click();
      const editor = browser.page.locator('.editor-instance .monaco-editor .view-lines').first();
      await editor.click();
      await browser.page.keyboard.press('Control+A');
      await browser.runCommand('caw: Send Selection to Chat');
      await chat.locator('.message.user', { hasText: 'From README.md:1-' }).waitFor({ timeout: config.timeoutMs });
      const withSelection = await browser.answers(4);
      assert.match(withSelection[3], /A workspace for the caw end-to-end test/);

      // End, then resume it from the list: the history comes back and it answers.
      await browser.runCommand('caw: End Chat');
      await chat.locator('body[data-status="ended"]').waitFor({ timeout: config.timeoutMs });
      await browser.runCommand('caw: Resume Chat…');
      await browser.pick('Chat to resume', 'installed from the');
      await chat.locator('body[data-status="idle"]').waitFor({ timeout: config.timeoutMs });
      const shown = await chat.locator('.message.assistant').count();
      assert.ok(shown >= 3, `the history is shown again (${shown} answers)`);
      await browser.say('Repeat after me: resumed from the list');
      const last = (await browser.answers(shown + 1)).at(-1) ?? '';
      assert.match(last, /resumed from the list/);
      await checkedScreenshot(browser, 'vsix-resumed');
    } catch (error) {
      await failureScreenshot(browser, 'vsix');
      fs.mkdirSync(config.outputDir, { recursive: true });
      fs.writeFileSync(path.join(config.outputDir, 'vsix-code-server.log'), cs.log);
      throw error;
    } finally {
      await browser?.close();
      await cs.stop();
    }
    await until(`no process left in ${wb.folder}`, () => processesIn(wb.folder).length === 0, 15_000);
  });

  test('a chat survives closing and reopening the workspace, and the next answer uses the earlier fact', async () => {
    const wb = workbench('restart', await freePort());

    await window(wb, 'restart-1', async (b) => {
      await b.runCommand('caw: New Chat');
      await b.pick('Provider for the new chat', 'claude_code');
      await b.say('My deploy target is staging-eu. Remember that.');
      const answers = await b.answers(1);
      assert.match(answers[0], /Noted: deploy target is staging-eu/);
      await checkedScreenshot(b, 'restart-1-chat');
    });

    await window(wb, 'restart-2', async (b) => {
      // Reopened by the extension itself, with the earlier turn from session/resume.
      const chat = b.chat();
      await chat.locator('.message.user', { hasText: 'My deploy target is staging-eu' }).waitFor({ timeout: config.timeoutMs });
      await chat.locator('body[data-status="idle"]').waitFor({ timeout: config.timeoutMs });
      await b.say('Where am I deploying?');
      const answers = await b.answers(2);
      assert.match(answers[0], /staging-eu/);
      assert.match(answers[1], /staging-eu/);
      assert.equal(await chat.locator('.message.user').count(), 2);
      await checkedScreenshot(b, 'restart-2-restored');
    });
  });

  test('the daemon killed mid-turn is restarted and the chat resumes with its context', async () => {
    const wb = workbench('kill', await freePort());
    // The provider from the settings: New Chat asks nothing.
    fs.mkdirSync(path.join(wb.folder, '.vscode'), { recursive: true });
    fs.writeFileSync(path.join(wb.folder, '.vscode/settings.json'), JSON.stringify({ 'caw.provider': 'claude_code' }));

    await window(wb, 'kill', async (b, cs) => {
      await b.runCommand('caw: New Chat');
      await b.say('My deploy target is staging-eu.');
      await b.answers(1);
      const chat = b.chat();

      await b.say('[[slow:20]] Tell me a long story about deployments.');
      // Streaming has begun: part of the answer is on screen.
      await chat.locator('.message.assistant.running .text').waitFor({ timeout: config.timeoutMs });
      // The daemon's $/progress for the turn shows as window progress in the status bar.
      await b.page.locator('.statusbar-item', { hasText: /caw.*writing/ }).first().waitFor({ timeout: config.timeoutMs });
      const daemons = descendants(cs.pid, /caw-server/);
      assert.equal(daemons.length, 1, `one caw-server under code-server: ${JSON.stringify(daemons)}`);
      log(`killing caw-server ${daemons[0].pid} mid-turn`);
      process.kill(daemons[0].pid, 'SIGKILL');

      await chat.locator('.message.assistant.stop-interrupted').waitFor({ timeout: config.timeoutMs });
      await chat.locator('.notice', { hasText: 'chat resumed' }).waitFor({ timeout: config.timeoutMs });
      const restarted = descendants(cs.pid, /caw-server/);
      assert.equal(restarted.length, 1);
      assert.notEqual(restarted[0].pid, daemons[0].pid);

      await b.say('Where am I deploying?');
      const answers = await b.answers(3);
      assert.match(answers[2], /staging-eu/);
      await checkedScreenshot(b, 'kill-recovered');
    });
  });
});
