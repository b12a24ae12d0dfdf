// First window of the permission test: "Always in this workspace" kept its rule in
// workspaceState (the rule the daemon named), and no question is left open.
import { api, assert, folder, runStep, turns, uiDone } from './common';

export function run(): Promise<void> {
  return runStep('perm-1', async () => {
    const caw = await api();
    await uiDone('perm-1');
    assert.deepEqual(caw.permissionRules(folder()), [{ tool: 'Bash', pattern: 'touch ws.txt', action: 'allow' }]);
    assert.deepEqual(caw.pendingPermissions(folder()), []);
    const chat = caw.chat(folder());
    assert.ok(chat);
    assert.equal(turns(chat.state).length, 6);
  });
}
