import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { rangeFragment, selectedLines, selectionLabel } from '../../src/selection';

test('a selection ending at column 0 does not count that line', () => {
  // Lines 1-3 selected with Shift+Down from the start of line 1: the cursor sits at line 4, column 0.
  assert.deepEqual(selectedLines({ line: 0, character: 0 }, { line: 3, character: 0 }), { first: 1, last: 3 });
  assert.equal(selectionLabel('src/a.py', { line: 0, character: 0 }, { line: 3, character: 0 }), 'src/a.py:1-3');
  assert.equal(rangeFragment({ line: 0, character: 0 }, { line: 3, character: 0 }), 'L1-L3');
});

test('a selection ending inside a line counts it', () => {
  assert.equal(selectionLabel('a.py', { line: 4, character: 2 }, { line: 6, character: 5 }), 'a.py:5-7');
  assert.equal(selectionLabel('a.py', { line: 4, character: 2 }, { line: 4, character: 9 }), 'a.py:5');
});

test('an empty selection at column 0 is its own line, not the one before', () => {
  assert.equal(selectionLabel('a.py', { line: 2, character: 0 }, { line: 2, character: 0 }), 'a.py:3');
  // From the middle of line 3 to the start of line 4: only line 3.
  assert.equal(selectionLabel('a.py', { line: 2, character: 4 }, { line: 3, character: 0 }), 'a.py:3');
});
