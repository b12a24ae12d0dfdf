// First window: a chat was started and told a fact. Its handle must be in
// SecretStorage (keyed by the folder) and only metadata in workspaceState.
import { api, assert, folder, record, resultOf, runStep, turns, uiDone } from './common';

export function run(): Promise<void> {
  return runStep('restart-1', async () => {
    const caw = await api();
    await uiDone('restart-1');
    const chat = caw.chat(folder());
    assert.ok(chat, 'a chat exists for the folder');
    const sessionId = chat.state.sessionId;
    assert.ok(sessionId, 'the chat has a session');
    assert.equal(chat.state.provider, 'claude_code');
    assert.equal(chat.completedTurns, 1);
    assert.match(resultOf(turns(chat.state)[0]), /staging-eu/);

    const stored = caw.storedChats(folder());
    assert.equal(stored.length, 1);
    assert.equal(stored[0].sessionId, sessionId);
    assert.equal(stored[0].provider, 'claude_code');
    assert.match(stored[0].title, /^My deploy target is staging-eu/);
    assert.ok(!Number.isNaN(Date.parse(stored[0].lastUsed)));

    const handle = await caw.storedHandle(folder(), sessionId);
    assert.ok(handle, 'the resume handle is in SecretStorage');
    const decoded = JSON.parse(handle) as { provider: string; session_id: string; resume_key: string };
    assert.equal(decoded.provider, 'claude_code');
    assert.equal(decoded.session_id, sessionId);
    assert.ok(decoded.resume_key);
    // The metadata never carries the credential.
    const metadata = JSON.stringify(stored);
    assert.ok(!metadata.includes(handle) && !/handle|resume_?key/i.test(metadata), `no handle in workspaceState: ${metadata}`);
    assert.equal(caw.serverStarts(), 1);
    record('restart-1', { sessionId });
  });
}
