import * as assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ChatStore, MAX_CHATS_PER_FOLDER, type SecretStore, secretKey, STATE_KEY, type StateStore } from '../../src/chatStore';

class Secrets implements SecretStore {
  readonly map = new Map<string, string>();
  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.map.get(key));
  }
  store(key: string, value: string): Promise<void> {
    this.map.set(key, value);
    return Promise.resolve();
  }
  delete(key: string): Promise<void> {
    this.map.delete(key);
    return Promise.resolve();
  }
}

class State implements StateStore {
  readonly map = new Map<string, unknown>();
  get(key: string): unknown {
    // Like a Memento: what was stored comes back as a copy of its JSON.
    const value = this.map.get(key);
    return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
  }
  update(key: string, value: unknown): Promise<void> {
    this.map.set(key, value);
    return Promise.resolve();
  }
}

function clock(start = Date.parse('2026-01-01T00:00:00Z')): () => Date {
  let t = start;
  return () => new Date((t += 1000));
}

const A = 'file:///work/a';
const B = 'file:///work/b';
const handle = (id: string): string => JSON.stringify({ version: 1, provider: 'claude_code', session_id: id, resume_key: `key-${id}` });

describe('ChatStore', () => {
  test('keeps the handle in secrets and only metadata in the workspace state', async () => {
    const secrets = new Secrets();
    const state = new State();
    const store = new ChatStore(secrets, state, clock());
    await store.save(A, { sessionId: 's1', provider: 'claude_code', model: null, title: 'Deploys' }, handle('s1'));
    assert.equal(await store.handle(A, 's1'), handle('s1'));
    assert.deepEqual([...secrets.map.keys()], [secretKey(A, 's1')]);
    const raw = JSON.stringify(state.map.get(STATE_KEY));
    assert.ok(!raw.includes('key-s1'), raw);
    assert.deepEqual(
      store.chats(A).map((c) => [c.sessionId, c.provider, c.title]),
      [['s1', 'claude_code', 'Deploys']],
    );
  });

  test('chats are per folder, and handles are keyed by folder', async () => {
    const store = new ChatStore(new Secrets(), new State(), clock());
    await store.save(A, { sessionId: 'same', provider: 'claude_code' }, 'handle-a');
    await store.save(B, { sessionId: 'same', provider: 'codex' }, 'handle-b');
    assert.equal(await store.handle(A, 'same'), 'handle-a');
    assert.equal(await store.handle(B, 'same'), 'handle-b');
    assert.equal(store.lastChat(A)?.provider, 'claude_code');
    assert.equal(store.lastChat(B)?.provider, 'codex');
    assert.equal(store.lastChat('file:///elsewhere'), undefined);
  });

  test('the last chat is the most recently used one not ended', async () => {
    const store = new ChatStore(new Secrets(), new State(), clock());
    await store.save(A, { sessionId: 'old', provider: 'claude_code' }, 'h-old');
    await store.save(A, { sessionId: 'new', provider: 'claude_code' }, 'h-new');
    assert.equal(store.lastChat(A)?.sessionId, 'new');
    await store.save(A, { sessionId: 'old', provider: 'claude_code' });
    assert.equal(store.lastChat(A)?.sessionId, 'old', 'using a chat makes it the last one');
    assert.equal(await store.handle(A, 'old'), 'h-old', 'saving without a handle keeps the stored one');
    await store.markEnded(A, 'old');
    assert.equal(store.lastChat(A)?.sessionId, 'new');
    assert.equal(store.get(A, 'old')?.ended, true);
    await store.save(A, { sessionId: 'old', provider: 'claude_code' });
    assert.equal(store.get(A, 'old')?.ended, undefined, 'resuming an ended chat revives it');
  });

  test('titles: a given title wins, else the old one, else a default', async () => {
    const store = new ChatStore(new Secrets(), new State(), clock());
    assert.equal((await store.save(A, { sessionId: 's', provider: 'p' })).title, 'New chat');
    assert.equal((await store.save(A, { sessionId: 's', provider: 'p', title: 'Fix the build' })).title, 'Fix the build');
    assert.equal((await store.save(A, { sessionId: 's', provider: 'p' })).title, 'Fix the build');
  });

  test('forget deletes the handle and the metadata', async () => {
    const secrets = new Secrets();
    const store = new ChatStore(secrets, new State(), clock());
    await store.save(A, { sessionId: 's1', provider: 'p' }, 'h1');
    await store.save(A, { sessionId: 's2', provider: 'p' }, 'h2');
    await store.forget(A, 's1');
    assert.equal(await store.handle(A, 's1'), undefined);
    assert.deepEqual(store.chats(A).map((c) => c.sessionId), ['s2']);
    await store.forget(A, 's2');
    assert.deepEqual(store.chats(A), []);
    assert.equal(secrets.map.size, 0);
  });

  test('concurrent saves are not lost', async () => {
    const store = new ChatStore(new Secrets(), new State(), clock());
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.save(A, { sessionId: `s${i}`, provider: 'p' }, `h${i}`)));
    assert.equal(store.chats(A).length, 10);
  });

  test('old chats beyond the limit are dropped with their handles', async () => {
    const secrets = new Secrets();
    const store = new ChatStore(secrets, new State(), clock());
    for (let i = 0; i < MAX_CHATS_PER_FOLDER + 3; i++) await store.save(A, { sessionId: `s${i}`, provider: 'p' }, `h${i}`);
    assert.equal(store.chats(A).length, MAX_CHATS_PER_FOLDER);
    assert.equal(secrets.map.size, MAX_CHATS_PER_FOLDER);
    assert.equal(await store.handle(A, 's0'), undefined);
    assert.equal(await store.handle(A, `s${MAX_CHATS_PER_FOLDER + 2}`), `h${MAX_CHATS_PER_FOLDER + 2}`);
  });

  test('ignores malformed state', () => {
    const state = new State();
    state.map.set(STATE_KEY, { [A]: [{ sessionId: 1 }, null, 'x', { sessionId: 's', provider: 'p', lastUsed: '2026-01-01T00:00:00Z', title: 't' }], [B]: 'nope' });
    const store = new ChatStore(new Secrets(), state);
    assert.deepEqual(store.chats(A).map((c) => c.sessionId), ['s']);
    assert.deepEqual(store.chats(B), []);
    state.map.set(STATE_KEY, ['not', 'an', 'index']);
    assert.deepEqual(store.chats(A), []);
  });
});

test('reverted turns are remembered per chat', async () => {
  const secrets = new Map<string, string>();
  const data = new Map<string, unknown>();
  const store = new ChatStore(
    { get: (k) => Promise.resolve(secrets.get(k)), store: (k, v) => Promise.resolve(void secrets.set(k, v)), delete: (k) => Promise.resolve(void secrets.delete(k)) },
    { get: (k) => data.get(k), update: (k, v) => Promise.resolve(void data.set(k, v)) },
  );
  await store.save('file:///ws', { sessionId: 's1', provider: 'claude_code' });
  await store.markReverted('file:///ws', 's1', 3);
  await store.markReverted('file:///ws', 's1', 3);
  assert.deepEqual(store.get('file:///ws', 's1')?.reverted, [3]);
  await store.save('file:///ws', { sessionId: 's1', provider: 'claude_code', title: 'later' });
  assert.deepEqual(store.get('file:///ws', 's1')?.reverted, [3], 'a later save keeps it');
});
