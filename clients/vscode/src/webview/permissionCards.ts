// The chat's permission cards: each question the daemon asks (the command, or
// the edit as a diff) with its four buttons, above the composer. Plain buttons,
// so Tab reaches them and Enter or Space presses them; a new card takes the
// focus itself (not a button: a stray Enter meant for the message must not allow).
import type { FromWebview } from '../chatModel';
import { CHOICES, type CardDiff, type PermissionCard } from '../permissions';

let shownIds = '';
const seen = new Set<string>();

function el(tag: string, className?: string, text?: string): HTMLElement {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderDiff(diff: CardDiff): HTMLElement {
  const node = el('div', 'diff');
  node.append(el('div', 'diff-path', diff.created ? `${diff.path} (new file)` : diff.path));
  const rows = el('pre', 'diff-rows');
  for (const row of diff.rows) {
    const sign = row.type === 'add' ? '+' : row.type === 'del' ? '-' : ' ';
    rows.append(el('div', `diff-row ${row.type}`, `${sign} ${row.text}`));
  }
  node.append(rows);
  return node;
}

function renderCard(card: PermissionCard, post: (m: FromWebview) => void): HTMLElement {
  const node = el('section', 'permission-card');
  node.dataset.id = card.id;
  node.tabIndex = -1;
  node.setAttribute('role', 'alertdialog');
  const heading = el('div', 'permission-title', card.diffs.length ? 'The agent wants to edit' : 'The agent wants to run');
  heading.id = `permission-${card.id}`;
  node.setAttribute('aria-labelledby', heading.id);
  node.append(heading);
  if (card.diffs.length) for (const diff of card.diffs) node.append(renderDiff(diff));
  else node.append(el('pre', 'permission-command', card.command ?? card.title));
  const buttons = el('div', 'permission-buttons');
  for (const c of CHOICES) {
    const button = el('button', c.choice === 'once' ? '' : 'secondary', c.label) as HTMLButtonElement;
    button.type = 'button';
    button.dataset.choice = c.choice;
    button.addEventListener('click', () => {
      for (const b of buttons.querySelectorAll('button')) b.disabled = true;
      post({ type: 'permission', id: card.id, choice: c.choice });
    });
    buttons.append(button);
  }
  node.append(buttons);
  return node;
}

/** Shows `cards` in `container` (redrawn only when the set of questions changes). */
export function renderPermissions(
  container: HTMLElement,
  cards: PermissionCard[],
  post: (m: FromWebview) => void,
  input: HTMLTextAreaElement,
): void {
  const ids = cards.map((c) => c.id).join(' ');
  if (ids === shownIds) return;
  shownIds = ids;
  container.replaceChildren(...cards.map((c) => renderCard(c, post)));
  container.hidden = cards.length === 0;
  const fresh = cards.find((c) => !seen.has(c.id));
  for (const c of cards) seen.add(c.id);
  const typing = document.activeElement === input && input.value !== '';
  if (fresh && !typing) {
    const node = container.querySelector<HTMLElement>(`[data-id="${fresh.id}"]`);
    node?.focus();
    node?.scrollIntoView({ block: 'nearest' });
  } else if (!cards.length && !container.contains(document.activeElement)) {
    // The answered card took the focus with it: back to the message box.
    if (document.activeElement === document.body) input.focus();
  }
}
