// Which lines a selection covers, as people count them (1-based, inclusive).
// A selection that ends at column 0 of a line (a whole-line selection made with
// Shift+Down, or Ctrl+A on a file ending in a newline) does not include that line.

export interface Position {
  line: number; // 0-based
  character: number;
}

export interface LineRange {
  first: number;
  last: number;
}

export function selectedLines(start: Position, end: Position): LineRange {
  const first = start.line + 1;
  const last = end.character === 0 && end.line > start.line ? end.line : end.line + 1;
  return { first, last };
}

/** `src/a.py:3-7`, or `src/a.py:3` for one line. */
export function selectionLabel(relativePath: string, start: Position, end: Position): string {
  const { first, last } = selectedLines(start, end);
  return first === last ? `${relativePath}:${first}` : `${relativePath}:${first}-${last}`;
}

/** The fragment a range attachment's uri carries (`#L12-L20`, 1-based inclusive). */
export function rangeFragment(start: Position, end: Position): string {
  const { first, last } = selectedLines(start, end);
  return `L${first}-L${last}`;
}
