// The chat header's provider / model / reasoning picker, filled from the
// daemon's providers/models. A model or reasoning change applies from the next
// turn (session/configure); a provider change starts a new chat, after asking.
import type { ChatViewState, FromWebview } from '../chatModel';

export class Picker {
  constructor(
    private readonly provider: HTMLSelectElement,
    private readonly model: HTMLSelectElement,
    private readonly reasoning: HTMLSelectElement,
    post: (m: FromWebview) => void,
  ) {
    provider.addEventListener('change', () => post({ type: 'switchProvider', provider: provider.value }));
    model.addEventListener('change', () => post({ type: 'configure', model: model.value }));
    reasoning.addEventListener('change', () => post({ type: 'configure', reasoning: reasoning.value }));
  }

  render(state: ChatViewState): void {
    const all = state.models ?? [];
    const usable = !!state.sessionId && state.status === 'idle';
    const mine = all.find((p) => p.provider === state.provider);
    for (const s of [this.provider, this.model, this.reasoning]) s.hidden = !all.length;
    if (!all.length) return;
    fill(this.provider, all.map((p) => [p.provider, p.provider]), state.provider ?? '');
    const models = mine?.models ?? [];
    const current = state.model ?? models.find((m) => m.isDefault)?.id ?? '';
    const options: [string, string][] = models.map((m) => [m.id, m.name]);
    if (current && !options.some(([id]) => id === current)) options.unshift([current, current]);
    fill(this.model, options, current);
    const levels = models.find((m) => m.id === current)?.reasoningLevels ?? [];
    this.reasoning.hidden = !levels.length;
    fill(this.reasoning, [['', 'default reasoning'], ...levels.map((l): [string, string] => [l, `reasoning: ${l}`])], state.reasoning ?? '');
    for (const s of [this.provider, this.model, this.reasoning]) s.disabled = !usable;
  }
}

function fill(select: HTMLSelectElement, options: [string, string][], value: string): void {
  const same = select.options.length === options.length && options.every(([v, l], i) => select.options[i].value === v && select.options[i].text === l);
  if (!same) {
    select.replaceChildren(
      ...options.map(([v, l]) => {
        const o = document.createElement('option');
        o.value = v;
        o.text = l;
        return o;
      }),
    );
  }
  select.value = value;
}
