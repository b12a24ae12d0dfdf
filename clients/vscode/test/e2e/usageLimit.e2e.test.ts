// Usage limits in the chat, inside a real VS Code (code-server, headless chromium) with the real
// daemon, the real claude CLI and caw's scripted model server, whose `[[usage-limit]]` directive
// answers the model request with the API's usage-limit error:
//   auto-wait on (caw.autoWait: true): the chat shows until when the daemon waits (local time)
//     in place of "Waiting for the agent…"; Esc ends the wait, the turn says so and offers Retry.
//   auto-wait on, the wait made instant (FAST_SLEEP below, loaded by the daemon): the resent
//     answer streams, and the wait's line becomes a note above it.
//   auto-wait off (caw.autoWait: false): the failed turn shows the CLI's words and names the setting.
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
  vsixWindow as harnessVsixWindow,
  type Workbench,
} from './harness';

let model: ModelServer;
let root: string;
const timeout = config.timeoutMs;

before(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'caw-vscode-limit-'));
  model = await ModelServer.startRecording(path.join(root, 'requests.jsonl'));
  log(`model server ${model.url}, root ${root}`);
});

after(async () => {
  await model.stop();
  if (process.env.CAW_E2E_KEEP !== '1') fs.rmSync(root, { recursive: true, force: true });
});

// Loaded by the daemon's interpreter at startup (PYTHONPATH), as in
// tests/compat/test_daemon_auto_wait.py: the wait's sleep records its minutes and returns at once.
const FAST_SLEEP = `
import asyncio, json, os
import caw.usage_limits as usage_limits

async def _recorded(minutes):
    with open(os.environ["CAW_TEST_SLEEPS"], "a") as f:
        f.write(json.dumps(minutes) + "\\n")
    await asyncio.sleep(0)

usage_limits.sleep_minutes = _recorded
`;

async function workbench(name: string, autoWait: boolean, extraEnv: NodeJS.ProcessEnv = {}): Promise<Workbench> {
  const env = { ...model.cliEnvironment(path.join(root, `cli-${name}`), 'claude_code'), ...extraEnv };
  delete env.CAW_AUTOWAIT; // the setting decides
  const settings = {
    'caw.serverPath': config.cawServer,
    'caw.dataDir': path.join(root, `caw-data-${name}`),
    'caw.provider': 'claude_code',
    'caw.permissionMode': 'bypass',
    'caw.autoWait': autoWait,
  };
  return prepareWorkbench(root, name, env, settings, await freePort());
}

/** One window on the extension installed from the .vsix. */
function vsixWindow(wb: Workbench, step: string, drive: (b: Browser) => Promise<void>): Promise<void> {
  return harnessVsixWindow(wb, step, () => model.log, drive);
}

/** Opens a new chat and sends `text` with the keyboard. */
async function send(b: Browser, text: string): Promise<void> {
  const chat = b.chat();
  await b.runCommand('caw: New Chat');
  await chat.locator('body[data-status="idle"]').waitFor({ timeout });
  await b.page.keyboard.press('Control+Alt+k');
  await chat.locator('#send:not([disabled])').waitFor({ timeout });
  await chat.locator('#input:focus').waitFor({ timeout });
  await b.page.keyboard.type(text);
  await b.page.keyboard.press('Enter');
}

const WAITING = /^Usage limit reached — waiting until (.+) \(about (\d+ h(?: \d+ min)?|\d+ min)\), then sending again\. Cancel \(Esc\) stops waiting\.$/;

describe('usage limits', { concurrency: 1 }, () => {
  test('auto-wait on: the chat shows the wait, Esc ends it, a resent answer follows a note; off: the failure names the setting', async () => {
    await vsixWindow(await workbench('limit-wait', true), 'limit-wait', async (b) => {
      const chat = b.chat();
      await send(b, '[[usage-limit]] Repeat after me: still here');
      const line = chat.locator('.message.assistant.running .usage-wait:not([hidden])');
      await line.waitFor({ timeout });
      const text = await line.innerText();
      const [, until, about] = WAITING.exec(text) ?? assert.fail(text);
      assert.ok(about && !/^0 min$/.test(about), text);
      // The clock is the page's local time of the reset: today or a weekday, hours and minutes.
      assert.match(until, /\d{1,2}:\d{2}/, text);
      // It stands in for "Waiting for the agent…"; the attempt's streamed error text is void.
      assert.equal(await chat.locator('.message.assistant.running .waiting:not([hidden])').count(), 0);
      assert.equal(await chat.locator('.message.assistant.running .text').count(), 0);
      assert.equal(await chat.locator('#cancel:not([hidden])').count(), 1);
      assert.equal(await chat.locator('#status').innerText(), 'waiting for the usage limit…');
      await checkedScreenshot(b, 'limit-waiting');
      // Esc (with the focus in the message box) stops waiting; the turn says so, with Retry.
      await b.page.keyboard.press('Escape');
      const stopped = chat.locator('.message.assistant.stop-cancelled .wait-note', { hasText: 'Stopped waiting for the usage limit to reset' });
      await stopped.waitFor({ timeout });
      await chat.locator('body[data-status="idle"]').waitFor({ timeout });
      assert.equal(await chat.locator('.usage-wait').count(), 0);
      await stopped.locator('button', { hasText: 'Retry' }).waitFor({ timeout });
      assert.equal(await chat.locator('.message.assistant .turn-note', { hasText: /^Cancelled\.$/ }).count(), 0);
      await checkedScreenshot(b, 'limit-stopped');
    });

    const shim = path.join(root, 'shim');
    fs.mkdirSync(shim);
    fs.writeFileSync(path.join(shim, 'sitecustomize.py'), FAST_SLEEP);
    const sleeps = path.join(root, 'sleeps.jsonl');
    const fast = { PYTHONPATH: [shim, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter), CAW_TEST_SLEEPS: sleeps };
    await vsixWindow(await workbench('limit-resend', true, fast), 'limit-resend', async (b) => {
      const chat = b.chat();
      await send(b, '[[limit-once]] Repeat after me: still here');
      assert.match((await b.answers(1))[0], /still here/);
      const turn = chat.locator('.message.assistant').last();
      const note = await turn.locator('.wait-note').innerText();
      assert.match(note, /^Usage limit: waited until .*\d:\d\d.*, then sent again\.$/);
      assert.equal(await chat.locator('.usage-wait').count(), 0);
      assert.equal(await turn.locator('.turn-note.error').count(), 0);
      const slept = fs.readFileSync(sleeps, 'utf8').split('\n').filter(Boolean).map(Number);
      assert.equal(slept.length, 1);
      assert.ok((slept[0] ?? 0) >= 1, `slept ${JSON.stringify(slept)}`);
      await checkedScreenshot(b, 'limit-resent');
    });

    await vsixWindow(await workbench('limit-off', false), 'limit-off', async (b) => {
      const chat = b.chat();
      await send(b, '[[usage-limit]] Repeat after me: still here');
      const note = chat.locator('.message.assistant.stop-error .turn-note.error');
      await note.waitFor({ timeout });
      const text = await note.innerText();
      assert.match(text, /usage limit/i);
      assert.match(text, /period\. Turn on the "caw\.autoWait" setting to wait for the reset and send again automatically\./);
      assert.equal(await chat.locator('.usage-wait').count(), 0);
      await checkedScreenshot(b, 'limit-off');
    });
  });
});
