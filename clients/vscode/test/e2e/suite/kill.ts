// The daemon was killed mid-turn: the extension restarted it, resumed the chat
// from the stored handle, and the next answer used the earlier fact.
import { api, assert, folder, resultOf, runStep, turns, uiDone } from './common';

export function run(): Promise<void> {
  return runStep('kill', async () => {
    const caw = await api();
    await uiDone('kill');
    const chat = caw.chat(folder());
    assert.ok(chat);
    assert.equal(caw.serverStarts(), 2, 'the daemon was started again after it died');
    assert.equal(chat.state.status, 'idle');
    const all = turns(chat.state);
    assert.equal(all.length, 3);
    assert.match(resultOf(all[0]), /staging-eu/);
    assert.equal(all[1].stopReason, 'interrupted');
    assert.match(resultOf(all[2]), /staging-eu/);
    const notices = chat.state.entries.filter((e) => e.kind === 'notice').map((e) => (e as { text: string }).text);
    assert.ok(notices.some((t) => /stopped/.test(t)), `a notice says the daemon stopped: ${JSON.stringify(notices)}`);
    assert.ok(notices.some((t) => /resumed/.test(t)), `a notice says the chat resumed: ${JSON.stringify(notices)}`);
    const sessionId = chat.state.sessionId;
    assert.ok(sessionId);
    assert.ok(await caw.storedHandle(folder(), sessionId), 'the handle is still stored');
  });
}
