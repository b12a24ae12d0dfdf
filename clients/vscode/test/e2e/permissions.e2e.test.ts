// Permission questions inside a real VS Code (code-server 4.99.4, headless chromium) with the
// real daemon, the real claude CLI and caw's scripted model server: with the default settings
// the agent asks before each command or edit; a card in the chat shows the command or the
// diff, a click or a key answers, and the effect is checked on disk. "Always in this
// workspace" outlasts the window (workspaceState) and covers new chats; a question asked
// while the chat is hidden comes as a notification. Codex and opencode ask through the same card.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, checkedScreenshot, config, freePort, log, ModelServer, prepareWorkbench, runWindow, until, type Workbench } from './harness';

let model: ModelServer;
let root: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'caw-vscode-perm-'));
  model = await ModelServer.start();
  env = model.cliEnvironment(path.join(root, 'cli'));
  log(`model server ${model.url}, root ${root}`);
});

after(async () => {
  await model.stop();
  if (process.env.CAW_E2E_KEEP !== '1') fs.rmSync(root, { recursive: true, force: true });
});

function workbench(name: string, port: number, provider = 'claude_code', cliEnv = env): Workbench {
  // No caw.permissionMode: the default must ask.
  const settings = { 'caw.serverPath': config.cawServer, 'caw.dataDir': path.join(root, 'caw-data'), 'caw.provider': provider };
  return prepareWorkbench(root, name, cliEnv, settings, port);
}

/** The finished answers shown now. */
async function answered(b: Browser): Promise<number> {
  await b.chat().locator('body[data-status="idle"]').waitFor({ timeout: config.timeoutMs });
  return b.chat().locator('.message.assistant:not(.running)').count();
}

/** Waits for the card asking about `text`; it is the only one. */
async function card(b: Browser, text: string) {
  const chat = b.chat();
  const found = chat.locator('.permission-card', { hasText: text });
  await found.waitFor({ timeout: config.timeoutMs });
  assert.equal(await chat.locator('.permission-card').count(), 1);
  const labels = await found.locator('button').allInnerTexts();
  assert.deepEqual(labels, ['Allow once', 'Always for this chat', 'Always in this workspace', 'Reject']);
  return found;
}

describe('caw asks before tools run, in VS Code', { concurrency: 1 }, () => {
  test('a card decides each command and edit; workspace rules outlast the window', async () => {
    const wb = workbench('perm', await freePort());
    const file = (name: string): string => path.join(wb.folder, name);

    await runWindow(wb, 'perm-1', () => model.log, async (b) => {
      const chat = b.chat();
      await b.runCommand('caw: New Chat');

      // Reject (a click): the command does not run and the model is told.
      await b.say('[[tool:bash:touch rejected.txt]] Run it.');
      const rejected = await card(b, 'touch rejected.txt');
      assert.match(await rejected.locator('.permission-title').innerText(), /wants to run/);
      assert.equal(await rejected.locator('.permission-command').innerText(), 'touch rejected.txt');
      await checkedScreenshot(b, 'perm-command-card');
      await rejected.locator('button', { hasText: 'Reject' }).click();
      const first = await b.answers(1);
      assert.match(first[0], /Tool said: .*reject/i);
      assert.equal(fs.existsSync(file('rejected.txt')), false, 'a rejected command did not run');
      assert.equal(await chat.locator('.permission-card').count(), 0, 'the answered card is gone');

      // Allow once, by keyboard: the new card has the focus, Tab reaches "Allow once", Enter presses it.
      await b.say('[[tool:bash:touch once.txt]] Run it.');
      const once = await card(b, 'touch once.txt');
      await chat.locator('.permission-card:focus').waitFor({ timeout: config.timeoutMs });
      await b.page.keyboard.press('Tab');
      assert.equal(await chat.locator('.permission-card button:focus').innerText(), 'Allow once');
      await b.page.keyboard.press('Enter');
      await b.answers(2);
      assert.ok(fs.existsSync(file('once.txt')), 'allowed once, it ran');
      assert.equal(await once.count(), 0);

      // An edit: its diff in the card; "Always for this chat" lets the next edit of the file run unasked.
      await b.say('[[tool:write:notes.txt:hello from caw]] Write it.');
      const edit = await card(b, 'notes.txt');
      assert.match(await edit.locator('.permission-title').innerText(), /wants to edit/);
      assert.match(await edit.locator('.diff-path').innerText(), /notes\.txt \(new file\)/);
      assert.deepEqual(await edit.locator('.diff-row.add').allInnerTexts(), ['+ hello from caw']);
      await checkedScreenshot(b, 'perm-diff-card');
      await edit.locator('button', { hasText: 'Always for this chat' }).click();
      await b.answers(3);
      assert.equal(fs.readFileSync(file('notes.txt'), 'utf8').trim(), 'hello from caw');
      await b.say('[[tool:write:notes.txt:second version]] Write it again.');
      await b.answers(4); // no card: nobody would answer one
      assert.equal(fs.readFileSync(file('notes.txt'), 'utf8').trim(), 'second version');

      // "Always in this workspace": kept by the extension (perm-1 checks workspaceState).
      await b.say('[[tool:bash:touch ws.txt]] Run it.');
      await (await card(b, 'touch ws.txt')).locator('button', { hasText: 'Always in this workspace' }).click();
      await b.answers(5);
      assert.ok(fs.existsSync(file('ws.txt')));

      // The chat closed while a question waits: a notification asks, and its button answers.
      await b.say('[[tool:bash:touch hidden.txt]] Run it.');
      await card(b, 'touch hidden.txt');
      await b.runCommand('View: Close All Editors');
      const toast = b.page.locator('.notification-toast', { hasText: 'touch hidden.txt' });
      await toast.waitFor({ timeout: config.timeoutMs });
      assert.match(await toast.innerText(), /the agent asks to run/);
      await toast.locator('.monaco-button', { hasText: 'Allow once' }).click();
      await until('hidden.txt on disk', () => fs.existsSync(file('hidden.txt')));
      await b.runCommand('caw: Show Chat');
      await b.answers(6);
      assert.equal(await chat.locator('.permission-card').count(), 0);
    });

    // A new window: the restored chat is resumed with the workspace's rule, and so is a new chat.
    fs.rmSync(file('ws.txt'));
    await runWindow(wb, 'perm-2', () => model.log, async (b) => {
      const chat = b.chat();
      await chat.locator('.message.user', { hasText: 'touch hidden.txt' }).waitFor({ timeout: config.timeoutMs });
      const shown = await answered(b);
      await b.say('[[tool:bash:touch ws.txt]] Once more.');
      await b.answers(shown + 1);
      assert.ok(fs.existsSync(file('ws.txt')), 'the resumed chat ran it unasked');

      fs.rmSync(file('ws.txt'));
      await b.runCommand('caw: New Chat');
      await chat.locator('body[data-status="idle"]').waitFor({ timeout: config.timeoutMs });
      await b.say('[[tool:bash:touch ws.txt]] In a new chat.');
      await b.answers(1);
      assert.ok(fs.existsSync(file('ws.txt')), 'a new chat of the workspace ran it unasked');
      // Another command is still asked.
      await b.say('[[tool:bash:touch other.txt]] Run it.');
      await (await card(b, 'touch other.txt')).locator('button', { hasText: 'Reject' }).click();
      await b.answers(2);
      assert.equal(fs.existsSync(file('other.txt')), false);

      await b.runCommand('caw: Forget Workspace Permission Rules');
      await b.page.locator('.notification-toast', { hasText: 'ask again' }).waitFor({ timeout: config.timeoutMs });
    });
  });

  for (const provider of ['codex', 'opencode']) {
    test(`${provider} asks too: a rejected command does not run, an allowed one does`, async () => {
      const step = `perm-${provider}`;
      const wb = workbench(step, await freePort(), provider, model.cliEnvironment(path.join(root, `cli-${provider}`), provider));
      const file = (name: string): string => path.join(wb.folder, name);
      await runWindow(wb, step, () => model.log, async (b) => {
        await b.runCommand('caw: New Chat');
        await b.say('[[tool:bash:touch rejected.txt]] Run it.');
        await (await card(b, 'touch rejected.txt')).locator('button', { hasText: 'Reject' }).click();
        await b.answers(1);
        assert.equal(fs.existsSync(file('rejected.txt')), false);
        await b.say('[[tool:bash:touch allowed.txt]] Run it.');
        await (await card(b, 'touch allowed.txt')).locator('button', { hasText: 'Allow once' }).click();
        await b.answers(2);
        assert.ok(fs.existsSync(file('allowed.txt')));
      });
    });
  }
});
