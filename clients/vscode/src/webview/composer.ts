// The message box's helpers: chips for what is attached to the next message,
// and the @ completion (workspace files and @selection), all by keyboard:
// Up/Down move, Enter or Tab picks, Esc closes the list.
import type { ChatViewState, FileItem, FromWebview } from '../chatModel';

const MENTION = /(^|\s)@([^\s@]*)$/;

export class Composer {
  private items: FileItem[] = [];
  private active = 0;
  private query: string | undefined;

  constructor(
    private readonly input: HTMLTextAreaElement,
    private readonly chips: HTMLElement,
    private readonly list: HTMLElement,
    private readonly post: (m: FromWebview) => void,
  ) {
    list.setAttribute('role', 'listbox');
    list.setAttribute('aria-label', 'Files to attach');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-controls', list.id);
    input.addEventListener('input', () => this.changed());
    // Capture: runs before the box's own Enter handling.
    input.addEventListener('keydown', (e) => this.key(e), true);
    input.addEventListener('blur', () => setTimeout(() => this.close(), 150));
  }

  get open(): boolean {
    return !this.list.hidden;
  }

  renderChips(state: ChatViewState): void {
    const attached = state.attachments ?? [];
    this.chips.replaceChildren();
    this.chips.hidden = !attached.length;
    attached.forEach((a, index) => {
      const chip = document.createElement('span');
      chip.className = 'chip';
      chip.title = a.uri;
      chip.textContent = `@${a.label}`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'chip-remove';
      remove.textContent = '×';
      remove.setAttribute('aria-label', `Remove ${a.label}`);
      remove.addEventListener('click', () => this.post({ type: 'detach', index }));
      chip.append(remove);
      this.chips.append(chip);
    });
  }

  /** The extension's answer to a findFiles request. */
  showItems(query: string, items: FileItem[]): void {
    if (query !== this.query) return; // typed on meanwhile
    this.items = items;
    this.active = 0;
    this.list.replaceChildren();
    if (!items.length) return this.close();
    items.forEach((item, i) => {
      const row = document.createElement('div');
      row.className = 'completion';
      row.id = `completion-${i}`;
      row.setAttribute('role', 'option');
      row.textContent = `@${item.label}`;
      if (item.detail) {
        const d = document.createElement('span');
        d.className = 'completion-detail';
        d.textContent = ` ${item.detail}`;
        row.append(d);
      }
      row.addEventListener('mousedown', (e) => {
        e.preventDefault();
        this.pick(i);
      });
      this.list.append(row);
    });
    this.list.hidden = false;
    this.highlight();
  }

  private changed(): void {
    const before = this.input.value.slice(0, this.input.selectionStart);
    const m = MENTION.exec(before);
    if (!m) return this.close();
    this.query = m[2];
    this.post({ type: 'findFiles', query: m[2] });
  }

  private key(e: KeyboardEvent): void {
    if (!this.open) return;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      this.active = (this.active + (e.key === 'ArrowDown' ? 1 : -1) + this.items.length) % this.items.length;
      this.highlight();
    } else if (e.key === 'Enter' || e.key === 'Tab') {
      this.pick(this.active);
    } else if (e.key === 'Escape') {
      this.close();
    } else return;
    e.preventDefault();
    e.stopPropagation();
  }

  private highlight(): void {
    Array.from(this.list.children).forEach((row, i) => row.setAttribute('aria-selected', String(i === this.active)));
    this.input.setAttribute('aria-activedescendant', `completion-${this.active}`);
  }

  private pick(index: number): void {
    const item = this.items[index];
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, caret).replace(MENTION, (_all, space: string) => `${space}@${item.label} `);
    this.input.value = before + this.input.value.slice(caret);
    this.input.selectionStart = this.input.selectionEnd = before.length;
    this.post({ type: 'pick', item });
    this.close();
  }

  close(): void {
    this.list.hidden = true;
    this.query = undefined;
    this.input.removeAttribute('aria-activedescendant');
  }
}
