// Context sent with a message: a file by link (the daemon reads it) or a range /
// selection embedded with its text (uri fragment #L12-L20). For a daemon older
// than protocol 1.2 their text goes into the message itself.
import * as vscode from 'vscode';
import type { AttachmentRef } from './chatModel';
import type { Attachment } from './protocol';
import { rangeFragment, selectionLabel } from './selection';

export interface PendingAttachment {
  /** What the chip above the message box says, e.g. `src/a.py` or `src/a.py:3-7`. */
  label: string;
  attachment: Attachment;
}

export function fileAttachment(uri: vscode.Uri): PendingAttachment {
  const label = vscode.workspace.asRelativePath(uri, false);
  return { label, attachment: { type: 'resource_link', uri: uri.toString(), name: label } };
}

/** The editor's selection as an embedded range (the whole file when nothing is selected). */
export function selectionAttachment(editor: vscode.TextEditor): PendingAttachment {
  const doc = editor.document;
  const sel = editor.selection;
  const rel = vscode.workspace.asRelativePath(doc.uri, false);
  if (sel.isEmpty) return fileAttachment(doc.uri);
  // Whole lines, as the label counts them.
  const end = sel.end.character === 0 && sel.end.line > sel.start.line ? sel.end.line - 1 : sel.end.line;
  const range = new vscode.Range(sel.start.line, 0, end, doc.lineAt(end).text.length);
  return {
    label: selectionLabel(rel, sel.start, sel.end),
    attachment: {
      type: 'resource',
      resource: { uri: `${doc.uri.toString()}#${rangeFragment(sel.start, sel.end)}`, text: doc.getText(range), mimeType: 'text/plain' },
    },
  };
}

export function attachmentRefs(items: PendingAttachment[]): AttachmentRef[] {
  return items.map((a) => ({ uri: a.attachment.type === 'resource_link' ? a.attachment.uri : a.attachment.resource.uri, name: a.label }));
}

/** For a daemon without attachments: the message with each attachment's text after it. */
export async function inlineAttachments(message: string, items: PendingAttachment[]): Promise<string> {
  const parts = [message];
  for (const a of items) {
    let text: string;
    if (a.attachment.type === 'resource') text = a.attachment.resource.text;
    else {
      const bytes = await vscode.workspace.fs.readFile(vscode.Uri.parse(a.attachment.uri));
      text = new TextDecoder().decode(bytes.subarray(0, 1 << 20));
    }
    parts.push(`From ${a.label}:\n\`\`\`\n${text.replace(/\s+$/, '')}\n\`\`\``);
  }
  return parts.join('\n\n');
}
