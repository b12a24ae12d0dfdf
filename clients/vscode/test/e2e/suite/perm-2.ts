// Second window: the workspace's rule is still in workspaceState after the window closed,
// and the new chat and the resumed one ran the command without a question.
import { api, assert, folder, runStep, uiDone } from './common';

export function run(): Promise<void> {
  return runStep('perm-2', async () => {
    const caw = await api();
    await uiDone('perm-2');
    assert.deepEqual(caw.permissionRules(folder()), [{ tool: 'Bash', pattern: 'touch ws.txt', action: 'allow' }]);
    assert.deepEqual(caw.pendingPermissions(folder()), []);
  });
}
