// The chat as issue 17 wants it, inside a real VS Code (code-server 4.99.4, headless
// chromium) with the real daemon, the real claude, codex and opencode CLIs and caw's scripted
// model server (recording what reached the model). Few windows, each checking many things in turn:
//   chat-1 (claude): the trust prompt for a folder with agent configuration; the main flow by
//     keyboard only (open, type, send, Esc cancels); a highlighted code block's Insert and Copy;
//     tokens and cost per turn and per chat; @ completion attaches a file and the model's request
//     carries its content; an edit listed under its turn, shown in the diff editor and reverted
//     (checked on disk); a failed turn shown once with Retry; a model switch reaching the model
//     server; a second chat in the same folder.
//   chat-2 (claude, the same workspace after a restart): the restored view (no empty group
//     beside it), both chats resumed from the chat list, the failed turn still shown.
//   chat-codex: the same review, attachment and model switch with codex.
//   chat-opencode-1, chat-opencode-2 (opencode): a streamed answer, then after a restart the
//     chat resumed with its conversation (the model's next request carries the earlier turn).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  Browser,
  checkedScreenshot,
  config,
  freePort,
  log,
  ModelServer,
  prepareWorkbench,
  until,
  vsixWindow as harnessVsixWindow,
  type Workbench,
} from './harness';

let model: ModelServer;
let root: string;
let requestsFile: string;
const timeout = config.timeoutMs;

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'caw-vscode-chat-'));
  requestsFile = path.join(root, 'requests.jsonl');
  model = await ModelServer.startRecording(requestsFile);
  log(`model server ${model.url}, root ${root}`);
});

after(async () => {
  await model.stop();
  if (process.env.CAW_E2E_KEEP !== '1') fs.rmSync(root, { recursive: true, force: true });
});

interface ModelRequest {
  kind: string;
  model: string | null;
  texts: string[];
  tail: string;
}

function requests(): ModelRequest[] {
  if (!fs.existsSync(requestsFile)) return [];
  return fs
    .readFileSync(requestsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ModelRequest)
    .filter((r) => r.kind === 'main');
}

function workbench(name: string, provider: string): Promise<Workbench> {
  const env = model.cliEnvironment(path.join(root, `cli-${provider}`), provider);
  const settings = {
    'caw.serverPath': config.cawServer,
    'caw.dataDir': path.join(root, `caw-data-${name}`),
    'caw.provider': provider,
    // The edits here are the agent's own; permission cards have their own test.
    'caw.permissionMode': 'bypass',
  };
  return freePort().then((port) => prepareWorkbench(root, name, env, settings, port));
}

function seed(wb: Workbench): void {
  fs.mkdirSync(path.join(wb.folder, 'src'), { recursive: true });
  fs.writeFileSync(path.join(wb.folder, 'src/stats.py'), 'def caw_marker_mean(values):\n    old_value = sum(values)\n    return old_value / len(values)\n');
}

/** One window on the extension installed from the .vsix, the clipboard open to the page. */
function vsixWindow(wb: Workbench, step: string, drive: (b: Browser) => Promise<void>): Promise<void> {
  return harnessVsixWindow(wb, step, () => model.log, async (browser) => {
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write']);
    await drive(browser);
  });
}

/** The chat list (activity bar): its rows' texts once `count` are shown. */
async function chatList(b: Browser, count: number): Promise<string[]> {
  const rows = b.page.locator('.pane-body .monaco-list-row', { hasText: 'claude_code' });
  if (!(await rows.first().isVisible())) await b.page.locator('.activitybar .action-item a[aria-label^="caw"]').first().click();
  await rows.nth(count - 1).waitFor({ timeout });
  return rows.allInnerTexts();
}

/** Polls an async look at the page until it holds. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The finished answers shown now. */
async function shown(b: Browser): Promise<number> {
  await b.chat().locator('body[data-status="idle"]').waitFor({ timeout });
  return b.chat().locator('.message.assistant:not(.running)').count();
}

/** Sends with the keyboard: the message box has the focus. */
async function typeAndSend(b: Browser, text: string): Promise<void> {
  const chat = b.chat();
  await chat.locator('#send:not([disabled])').waitFor({ timeout });
  await chat.locator('#input:focus').waitFor({ timeout });
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (i) await b.page.keyboard.press('Shift+Enter'); // a new line; Enter alone sends
    await b.page.keyboard.type(line);
  }
  await b.page.keyboard.press('Enter');
}

/** @ completion: types `@query`, waits for `label` in the list and picks it with Enter. */
async function mention(b: Browser, query: string, label: string): Promise<void> {
  const chat = b.chat();
  await chat.locator('#input:focus').waitFor({ timeout });
  await b.page.keyboard.type(`@${query}`);
  const option = chat.locator('#completions .completion', { hasText: label }).first();
  await option.waitFor({ timeout });
  while ((await option.getAttribute('aria-selected')) !== 'true') await b.page.keyboard.press('ArrowDown');
  await b.page.keyboard.press('Enter');
  await chat.locator('#chips .chip', { hasText: `@${label}` }).waitFor({ timeout });
}

/** Review: the turn lists `file`; a click opens the diff editor; Revert puts it back on disk. */
async function reviewAndRevert(b: Browser, file: string, disk: string, before: string, step: string): Promise<void> {
  const chat = b.chat();
  const turn = chat.locator('.message.assistant').last();
  const change = turn.locator('.changes .change-open', { hasText: file });
  await change.waitFor({ timeout });
  await change.click();
  await b.page.locator('.monaco-diff-editor').first().waitFor({ timeout });
  await b.page.locator('.tab', { hasText: `${path.basename(file)} (turn` }).first().waitFor({ timeout });
  await b.page.screenshot({ path: path.join(config.outputDir, `${step}-diff.png`) });
  assert.notEqual(fs.readFileSync(disk, 'utf8'), before, 'the agent changed the file');
  await b.runCommand('caw: Show Chat');
  await turn.locator('button.revert').click();
  const dialog = b.page.locator('.monaco-dialog-box', { hasText: 'Revert the changes of this turn?' });
  await dialog.waitFor({ timeout });
  assert.match(await dialog.innerText(), new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await dialog.getByRole('button', { name: 'Revert', exact: true }).click();
  await chat.locator('.notice', { hasText: `Reverted: ${file}` }).waitFor({ timeout });
  assert.equal(fs.readFileSync(disk, 'utf8'), before, 'the file is as it was before the turn');
}

/** Picks another model in the header; returns its id. */
async function switchModel(b: Browser): Promise<string> {
  const chat = b.chat();
  const picker = chat.locator('#pick-model:not([hidden])');
  await picker.waitFor({ timeout });
  await chat.locator('#pick-model:not([disabled])').waitFor({ timeout });
  const values = await Promise.all((await picker.locator('option').all()).map((o) => o.getAttribute('value').then((v) => v ?? '')));
  const current = await picker.inputValue();
  const other = values.find((v) => v && v !== current);
  assert.ok(other, `another model to pick: ${JSON.stringify(values)}`);
  await picker.selectOption(other);
  await chat.locator('.notice', { hasText: 'From the next turn' }).last().waitFor({ timeout });
  return other;
}

describe('the chat: review, context, models, many chats, cost, keyboard', { concurrency: 1 }, () => {
  test('claude: one window checks the flow, a second one the chats after a restart', async () => {
    const wb = await workbench('chat', 'claude_code');
    seed(wb);
    // Agent configuration: the daemon refuses the folder until the user decides.
    fs.mkdirSync(path.join(wb.folder, '.claude'), { recursive: true });
    fs.writeFileSync(path.join(wb.folder, '.claude/settings.json'), '{"env": {"CAW_E2E_PROJECT_SETTING": "1"}}\n');
    const stats = path.join(wb.folder, 'src/stats.py');
    const original = fs.readFileSync(stats, 'utf8');

    await vsixWindow(wb, 'chat-1', async (b) => {
      const chat = b.chat();
      // Keyboard only: the palette opens the chat; the trust question is a modal answered by Enter ("Trust").
      await b.runCommand('caw: New Chat');
      const trust = b.page.locator('.monaco-dialog-box', { hasText: 'Trust the agent configuration' });
      await trust.waitFor({ timeout });
      assert.match(await trust.innerText(), /\.claude\/settings\.json/);
      await b.page.screenshot({ path: path.join(config.outputDir, 'chat-trust.png') });
      await b.page.keyboard.press('Enter');
      await chat.locator('.notice', { hasText: 'Trusted the agent configuration' }).waitFor({ timeout });
      await chat.locator('body[data-status="idle"]').waitFor({ timeout });
      // Ctrl+Alt+K shows the chat with the focus in the message box.
      await b.page.keyboard.press('Control+Alt+k');
      await typeAndSend(b, 'Repeat after me: typed without a mouse');
      assert.match((await b.answers(1))[0], /typed without a mouse/);

      // Tokens and cost: under the turn and for the chat in the header.
      const usage = await chat.locator('.message.assistant .turn-usage').first().innerText();
      assert.match(usage, /[\d.]+k? in · [\d.]+k? out/);
      assert.match(usage, /\$\d/, `the turn's cost: ${usage}`);
      assert.match(await chat.locator('#totals').innerText(), /tokens · \$\d/);

      // Esc stops a streaming answer (the focus stays in the message box).
      await typeAndSend(b, '[[slow:30]] Tell me a long story.');
      await chat.locator('.message.assistant.running .text').waitFor({ timeout });
      await b.page.keyboard.press('Escape');
      await chat.locator('.message.assistant.stop-cancelled').waitFor({ timeout });

      // A code block: highlighted; Insert at Cursor into README.md (cursor at its start), then Copy.
      await typeAndSend(b, 'Repeat after me: ```python\nprint("caw-code")\n```');
      await b.answers(3);
      const block = chat.locator('.code-block').last();
      await block.locator('code.hljs .hljs-built_in', { hasText: 'print' }).waitFor({ timeout });
      await b.page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'README.md' }).click();
      await b.page.locator('.editor-instance .monaco-editor .view-lines').first().click();
      await b.page.keyboard.press('Control+Home');
      await b.runCommand('caw: Show Chat');
      await block.locator('button.code-insert').click();
      await b.page.locator('.editor-instance .view-line', { hasText: 'print("caw-code")' }).first().waitFor({ timeout });
      await b.runCommand('caw: Show Chat');
      await block.locator('button.code-copy').click();
      await block.locator('button.code-copy', { hasText: 'Copied' }).waitFor({ timeout });
      await checkedScreenshot(b, 'chat-code-block');
      // The clipboard has it: pasted into the message box.
      await chat.locator('#input').focus();
      await b.page.keyboard.press('Control+v');
      await eventually('the pasted code', async () => (await chat.locator('#input').inputValue()) === 'print("caw-code")');
      await chat.locator('#input').fill('');
      // Apply to File: reviewed in the diff editor, written only on Apply.
      await block.locator('button.code-apply').click();
      await b.page.locator('.monaco-diff-editor').first().waitFor({ timeout });
      const apply = b.page.locator('.notification-toast', { hasText: 'apply this code to README.md' });
      await apply.waitFor({ timeout });
      assert.notEqual(fs.readFileSync(path.join(wb.folder, 'README.md'), 'utf8'), 'print("caw-code")\n', 'not written before Apply');
      await apply.locator('.monaco-button', { hasText: 'Apply' }).click();
      await until('README.md applied on disk', () => fs.readFileSync(path.join(wb.folder, 'README.md'), 'utf8') === 'print("caw-code")\n');
      await apply.waitFor({ state: 'detached', timeout }); // the closing toast hands the focus back first

      // @ completion attaches a file; the model's request carries its content.
      await b.runCommand('caw: Show Chat');
      await chat.locator('#input:focus').waitFor({ timeout });
      await b.page.keyboard.type('Repeat after me: attached ');
      assert.equal(await chat.locator('#input').inputValue(), 'Repeat after me: attached ', 'every key reached the box');
      await mention(b, 'stat', 'src/stats.py');
      await b.page.keyboard.press('Enter');
      await b.answers(4);
      await chat.locator('.message.user .attachment', { hasText: '@src/stats.py' }).waitFor({ timeout });
      await until('the attachment in the model request', () => requests().some((r) => r.tail.includes('caw_marker_mean')));

      // An edit by a shell command: listed under its turn, shown as a diff, reverted on disk.
      await b.say('[[tool:bash:sed -i s/old_value/new_value/g src/stats.py]] Run it.');
      await b.answers(5);
      await reviewAndRevert(b, 'src/stats.py', stats, original, 'chat-1');

      // A failed turn: shown once, in the turn, with Retry.
      await b.runCommand('caw: Show Chat');
      await b.say('[[fail:400]] This one fails.');
      const failed = chat.locator('.message.assistant.stop-error').last();
      await failed.waitFor({ timeout });
      await chat.locator('body[data-status="idle"]').waitFor({ timeout });
      await failed.locator('button.retry').waitFor({ timeout });
      assert.equal(await chat.locator('.notice.error').count(), 0, 'no second copy of the error as a notice');
      await checkedScreenshot(b, 'chat-failed-turn');

      // A model switch reaches the model server.
      const picked = await switchModel(b);
      const before = requests().length;
      await b.say('Repeat after me: after the switch');
      await b.answers(6);
      await until(`a request for ${picked}`, () => requests().slice(before).some((r) => (r.model ?? '').includes(picked)));

      // A second chat in the same folder (nothing runs: New Chat asks nothing).
      await b.runCommand('caw: New Chat');
      await chat.locator('.message.user').first().waitFor({ state: 'detached', timeout });
      await chat.locator('body[data-status="idle"]').waitFor({ timeout });
      await b.say('My color is teal. Remember that.');
      assert.match((await b.answers(1))[0], /Noted: color is teal/);
      const listed = await chatList(b, 2);
      assert.equal(listed.length, 2, JSON.stringify(listed));
    });

    await vsixWindow(wb, 'chat-2', async (b) => {
      const chat = b.chat();
      // The restored view shows the last chat; no second, empty editor group beside it.
      await chat.locator('.message.user', { hasText: 'My color is teal' }).waitFor({ timeout });
      assert.equal(await b.page.locator('.editor-group-container').count(), 1, 'one editor group');
      await b.say('What is my color?');
      assert.match((await b.answers(2))[1], /teal/);
      // The first chat from the chat list in the activity bar: its failed turn is still there.
      const listed = await chatList(b, 2);
      assert.ok(listed.some((t) => /typed without a mouse/.test(t) && /claude_code · \d+ turns/.test(t)), JSON.stringify(listed));
      await b.page.locator('.pane-body .monaco-list-row', { hasText: 'typed without a mouse' }).click();
      await chat.locator('.message.user', { hasText: 'typed without a mouse' }).waitFor({ timeout });
      await chat.locator('body[data-status="idle"]').waitFor({ timeout });
      await chat.locator('.message.assistant.stop-error').waitFor({ timeout });
      // The reverted turn stays reverted (no second Revert button).
      await chat.locator('.changes .turn-note', { hasText: 'Reverted.' }).waitFor({ timeout });
      assert.equal(await chat.locator('button.revert').count(), 0);
      await checkedScreenshot(b, 'chat-2-resumed');
      const count = await shown(b);
      await b.say('Repeat after me: resumed after the restart');
      assert.match((await b.answers(count + 1)).at(-1) ?? '', /resumed after the restart/);

      // Rename (session/rename) and delete (asks first; session/delete) from the list.
      const row = (text: string) => b.page.locator('.pane-body .monaco-list-row', { hasText: text });
      await row('typed without a mouse').hover();
      await row('typed without a mouse').locator('.action-label[aria-label^="Rename Chat"]').click();
      const box = b.page.locator('.quick-input-widget input.input');
      await box.waitFor({ state: 'visible', timeout });
      await box.fill('The keyboard chat');
      await box.press('Enter');
      await row('The keyboard chat').waitFor({ timeout });
      await chat.locator('#title', { hasText: 'The keyboard chat' }).waitFor({ timeout });
      await row('My color is teal').hover();
      await row('My color is teal').locator('.action-label[aria-label^="Delete Chat"]').click();
      const ask = b.page.locator('.monaco-dialog-box', { hasText: 'Delete the chat' });
      await ask.waitFor({ timeout });
      await ask.getByRole('button', { name: 'Delete', exact: true }).click();
      await row('My color is teal').waitFor({ state: 'detached', timeout });
      assert.deepEqual((await chatList(b, 1)).length, 1);
      await checkedScreenshot(b, 'chat-2-list');
    });
  });

  test('codex: Add Selection to Chat, review and revert, a model switch', async () => {
    const wb = await workbench('chat-codex', 'codex');
    seed(wb);
    const stats = path.join(wb.folder, 'src/stats.py');
    const original = fs.readFileSync(stats, 'utf8');
    await vsixWindow(wb, 'chat-codex', async (b) => {
      const chat = b.chat();
      await b.runCommand('caw: New Chat');
      await chat.locator('body[data-status="idle"]').waitFor({ timeout });
      // Add Selection to Chat (Ctrl+Alt+L): lines 1-2 selected with Shift+Down end at column 0 of line 3,
      // which is not part of the range.
      await b.page.keyboard.press('Control+p');
      const open = b.page.locator('.quick-input-widget input.input');
      await open.waitFor({ state: 'visible', timeout });
      await open.fill('stats.py');
      await b.page.locator('.quick-input-list .monaco-list-row', { hasText: 'stats.py' }).first().waitFor({ timeout });
      await open.press('Enter');
      const firstLine = b.page.locator('.editor-instance .view-line', { hasText: 'caw_marker_mean' }).first();
      await firstLine.waitFor({ timeout });
      await firstLine.click(); // the editor has the keyboard
      await b.page.keyboard.press('Control+Home');
      await b.page.keyboard.press('Shift+ArrowDown');
      await b.page.keyboard.press('Shift+ArrowDown');
      await b.page.locator('.statusbar-item', { hasText: /Ln 3, Col 1 \(\d+ selected\)/ }).first().waitFor({ timeout });
      await b.page.keyboard.press('Control+Alt+l');
      await chat.locator('#chips .chip', { hasText: '@src/stats.py:1-2' }).waitFor({ timeout });
      await chat.locator('#input:focus').waitFor({ timeout });
      await b.page.keyboard.type('Repeat after me: codex attached');
      await b.page.keyboard.press('Enter');
      await b.answers(1);
      const sent = await until('the range in the codex request', () => requests().find((r) => r.tail.includes('caw_marker_mean') && r.tail.includes('codex attached')));
      assert.ok(!sent.tail.includes('return old_value'), 'line 3 is not part of the range');
      await b.say('[[tool:bash:sed -i s/old_value/new_value/g src/stats.py]] Run it.');
      await b.answers(2);
      await reviewAndRevert(b, 'src/stats.py', stats, original, 'chat-codex');
      await b.runCommand('caw: Show Chat');
      const picked = await switchModel(b);
      const before = requests().length;
      await b.say('Repeat after me: codex after the switch');
      await b.answers(3);
      await until(`a codex request for ${picked}`, () => requests().slice(before).some((r) => r.model === picked));
      await checkedScreenshot(b, 'chat-codex');
      // Another provider in the picker: it says a new chat starts, and asks first (Esc: nothing happens).
      const providers = chat.locator('#pick-provider');
      await providers.selectOption('claude_code');
      const ask = b.page.locator('.monaco-dialog-box', { hasText: 'switching to claude_code starts a new chat' });
      await ask.waitFor({ timeout });
      await b.page.keyboard.press('Escape');
      await ask.waitFor({ state: 'detached', timeout });
      await eventually('the picker back on codex', async () => (await providers.inputValue()) === 'codex');
      assert.equal(await chat.locator('.message.user').count(), 3, 'the codex chat is still shown');
    });
  });

  test('opencode: a streamed answer, and the chat resumed after a restart remembers it', async () => {
    const wb = await workbench('chat-opencode', 'opencode');
    const fact = 'My deploy target is staging-eu. Remember that.';
    await vsixWindow(wb, 'chat-opencode-1', async (b) => {
      const chat = b.chat();
      await b.runCommand('caw: New Chat');
      await chat.locator('body[data-status="idle"]').waitFor({ timeout });
      await eventually('opencode in the provider picker', async () => (await chat.locator('#pick-provider').inputValue()) === 'opencode');
      // Streamed: the answer shows while the turn still runs ([[slow:4]]: many deltas over 4 s).
      await b.say(`[[slow:4]] ${fact}`);
      await chat.locator('.message.assistant.running .text', { hasText: 'Noted' }).waitFor({ timeout });
      assert.match((await b.answers(1))[0], /Noted: deploy target is staging-eu\./);
    });
    await vsixWindow(wb, 'chat-opencode-2', async (b) => {
      const chat = b.chat();
      // The restored view shows the opencode chat; the next turn goes to the same conversation.
      await chat.locator('.message.user', { hasText: fact }).waitFor({ timeout });
      await chat.locator('body[data-status="idle"]').waitFor({ timeout });
      await eventually('opencode in the provider picker', async () => (await chat.locator('#pick-provider').inputValue()) === 'opencode');
      await b.say('Where am I deploying?');
      assert.match((await b.answers(2))[1], /staging-eu/);
      const asked = requests().filter((r) => r.texts.some((t) => t.includes('Where am I deploying?')));
      assert.ok(asked.length > 0 && asked.every((r) => r.tail.includes('My deploy target is staging-eu')), 'the earlier turn reached the model');
      await checkedScreenshot(b, 'chat-opencode-resumed');
    });
  });
});
