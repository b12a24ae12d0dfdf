import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { autoWait, autoWaitStatus, type Inspected } from '../../src/autoWait';

function config(set: Inspected<unknown> | undefined): { inspect<T>(section: string): Inspected<T> | undefined } {
  return {
    inspect<T>(section: string): Inspected<T> | undefined {
      assert.equal(section, 'autoWait');
      return set as Inspected<T> | undefined;
    },
  };
}

test('caw.autoWait is sent only where the user set it: unset leaves it to the daemon', () => {
  assert.equal(autoWait(config(undefined)), undefined);
  assert.equal(autoWait(config({})), undefined); // only the default (false): not sent
  assert.equal(autoWait(config({ globalValue: true })), true);
  assert.equal(autoWait(config({ globalValue: true, workspaceValue: false })), false);
  assert.equal(autoWait(config({ workspaceValue: false, workspaceFolderValue: true })), true);
  assert.equal(autoWait(config({ globalValue: 'yes' })), undefined); // not a boolean: ignored
});

test("the status item's tooltip says whether auto-wait is on, off or the daemon's default", () => {
  assert.equal(autoWaitStatus(autoWait(config({ globalValue: true }))), 'Auto-wait for usage limits: on (caw.autoWait)');
  assert.equal(autoWaitStatus(autoWait(config({ workspaceValue: false }))), 'Auto-wait for usage limits: off (caw.autoWait)');
  assert.equal(
    autoWaitStatus(autoWait(config({}))),
    "Auto-wait for usage limits: the daemon's default ($CAW_AUTOWAIT), caw.autoWait not set",
  );
});
