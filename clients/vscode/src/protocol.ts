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
} from './protocol.generated';
import type { SessionUpdate, Turn } from './protocol.generated';

export type Update = SessionUpdate['update'];
export type Block = NonNullable<Turn['output']>[number];

export const Methods = {
  start: 'session/start',
  send: 'session/send',
  resume: 'session/resume',
  cancel: 'session/cancel',
  end: 'session/end',
  list: 'session/list',
} as const;

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
