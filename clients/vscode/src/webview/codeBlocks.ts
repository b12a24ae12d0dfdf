// Code blocks in answers: highlighted by highlight.js (bundled, offline; its
// common languages) and given Copy / Insert at Cursor / Apply to File buttons.
// A fence's info string may name a file after the language (```py src/a.py);
// Apply then targets that file, else the editor last used.
import hljs from 'highlight.js/lib/common';
import type { CodeAction, FromWebview } from '../chatModel';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

/** markdown-it's `highlight` option: a whole `<pre>` so the fence's file name can ride along. */
export function highlight(code: string, lang: string, attrs: string): string {
  const language = lang && hljs.getLanguage(lang) ? lang : undefined;
  const body = language ? hljs.highlight(code, { language, ignoreIllegals: true }).value : escapeHtml(code);
  const file = attrs.trim().split(/\s+/)[0];
  const fileAttr = file ? ` data-file="${escapeHtml(file)}"` : '';
  const cls = lang ? ` language-${escapeHtml(lang)}` : '';
  return `<pre class="code"${fileAttr}><code class="hljs${cls}">${body}</code></pre>`;
}

const BUTTONS: { action: CodeAction; label: string; title: string }[] = [
  { action: 'copy', label: 'Copy', title: 'Copy the code' },
  { action: 'insert', label: 'Insert at Cursor', title: 'Insert the code at the cursor of the editor last used' },
  { action: 'apply', label: 'Apply to File…', title: 'Review the code as a change to a file in the diff editor, then apply it' },
];

/** Adds the buttons to every code block under `root` that has none yet. */
export function decorateCodeBlocks(root: ParentNode, post: (m: FromWebview) => void): void {
  for (const pre of Array.from(root.querySelectorAll<HTMLElement>('pre.code:not([data-decorated])'))) {
    pre.dataset.decorated = '1';
    const code = pre.querySelector('code');
    const language = /language-(\S+)/.exec(code?.className ?? '')?.[1];
    const bar = document.createElement('div');
    bar.className = 'code-actions';
    bar.setAttribute('role', 'toolbar');
    bar.setAttribute('aria-label', `Code${language ? ` (${language})` : ''}`);
    for (const b of BUTTONS) {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = `secondary code-${b.action}`;
      button.textContent = b.label;
      button.title = b.title;
      button.addEventListener('click', () => {
        const text = (code?.textContent ?? '').replace(/\n$/, '');
        post({ type: 'code', action: b.action, code: text, language, ...(pre.dataset.file ? { file: pre.dataset.file } : {}) });
        if (b.action === 'copy') {
          button.textContent = 'Copied';
          setTimeout(() => (button.textContent = b.label), 1500);
        }
      });
      bar.append(button);
    }
    const wrap = document.createElement('div');
    wrap.className = 'code-block';
    pre.replaceWith(wrap);
    wrap.append(bar, pre);
  }
}
