// Second window: the workspace's rule is still in workspaceState after the window closed
// (the restored and the new chat ran the command without a question), and
// "caw: Forget Workspace Permission Rules" removes it.
import { api, assert, folder, runStep, uiDone } from './common';

export function run(): Promise<void> {
  return runStep('perm-2', async () => {
    const caw = await api();
    // Read at once, before the runner gets to the Forget command.
    assert.deepEqual(caw.permissionRules(folder()), [{ tool: 'Bash', pattern: 'touch ws.txt', action: 'allow' }]);
    await uiDone('perm-2');
    assert.deepEqual(caw.permissionRules(folder()), []);
    assert.deepEqual(caw.pendingPermissions(folder()), []);
  });
}
