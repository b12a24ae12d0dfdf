// The caw protocol as this extension uses it: the generated types from
// protocol/caw.schema.json plus the method names and error kinds of
// protocol/README.md.
export type {
  CancelResult,
  CawCapabilities,
  EndResult,
  ErrorData,
  InitializationOptions,
  ListParams,
  ListResult,
  PermissionOption,
  PermissionToolCall,
  ProviderHealthInfo,
  ProviderInfo,
  RequestPermissionParams,
  RequestPermissionResult,
  ResumeParams,
  ResumeResult,
  RuleSpec,
  SendParams,
  SendResult,
  SessionDidChange,
  SessionInfo,
  SessionRef,
  SessionUpdate,
  StartParams,
  StartResult,
  TextBlock,
  ThinkingBlock,
  ToolUseBlock,
  Trajectory,
  Turn,
  Usage,
  UsageLimitWait,
} from './protocol.generated';
import type { SessionInfo, SessionUpdate, Turn } from './protocol.generated';

export type Update = SessionUpdate['update'];
export type Block = NonNullable<Turn['output']>[number];

export const Methods = {
  start: 'session/start',
  send: 'session/send',
  resume: 'session/resume',
  cancel: 'session/cancel',
  end: 'session/end',
  list: 'session/list',
  // Protocol 1.2.
  changes: 'session/changes',
  revert: 'session/revert',
  rename: 'session/rename',
  delete: 'session/delete',
  configure: 'session/configure',
  models: 'providers/models',
} as const;

// Protocol 1.2 (the contract P1/P2 build; written here until the generated types carry them).

/** An ACP content block sent with session/send: a file by link, or an embedded range / selection. */
export type Attachment =
  | { type: 'resource_link'; uri: string; name?: string; mimeType?: string }
  | { type: 'resource'; resource: { uri: string; text: string; mimeType?: string } };

export interface FileChangeDetail {
  path: string;
  status: 'added' | 'modified' | 'deleted';
  before: string | null;
  after: string | null;
}

export interface ChangesResult {
  changes: FileChangeDetail[];
}

export interface RevertResult {
  reverted: string[];
}

export interface ModelInfo {
  id: string;
  name?: string | null;
  reasoningLevels?: string[];
  isDefault?: boolean;
}

export interface ProviderModels {
  provider: string;
  models: ModelInfo[];
  source?: string;
}

export interface ModelsResult {
  providers: ProviderModels[];
}

export interface ConfigureParams {
  sessionId: string;
  model?: string | null;
  reasoning?: string | null;
}

export type SessionInfo12 = SessionInfo & {
  turnCount?: number | null;
  totalCostUsd?: number | null;
  lastActivity?: string | null;
  reasoning?: string | null;
};

/** The protocol version from which the daemon takes attachments, review and models. */
export const PROTOCOL_CHATS = '1.2';

export function atLeast(version: string | undefined, wanted: string): boolean {
  if (!version) return false;
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [c = 0, d = 0] = wanted.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

/** Requests the daemon sends to the client. */
export const ClientRequests = {
  requestPermission: 'session/requestPermission',
} as const;

export const Notifications = {
  update: 'session/update',
  didChange: 'session/didChange',
} as const;

/** LSP's RequestCancelled: what a cancelled session/send answers. */
export const REQUEST_CANCELLED = -32800;
