// Second window on the same workspace, after code-server restarted: the chat
// reopened by itself with its history, and the new answer used the fact.
import { api, assert, folder, recorded, resultOf, runStep, turns, uiDone } from './common';

export function run(): Promise<void> {
  return runStep('restart-2', async () => {
    const caw = await api();
    await caw.restored;
    await uiDone('restart-2');
    const before = recorded('restart-1') as { sessionId: string };
    const chat = caw.chat(folder());
    assert.ok(chat, 'the chat was reopened');
    assert.equal(chat.state.sessionId, before.sessionId, 'the same session was resumed');
    const all = turns(chat.state);
    assert.equal(all.length, 2, 'the earlier turn was restored and one was added');
    assert.match(all[0].input, /My deploy target is staging-eu/);
    assert.match(resultOf(all[0]), /staging-eu/);
    assert.match(all[1].input, /Where am I deploying\?/);
    assert.match(resultOf(all[1]), /staging-eu/);
    assert.equal(chat.completedTurns, 1);
    assert.equal(caw.serverStarts(), 1);
    assert.equal(caw.storedChats(folder())[0].sessionId, before.sessionId);
  });
}
