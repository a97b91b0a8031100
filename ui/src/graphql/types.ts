// Hand-written types for the console's GraphQL documents, following schema.graphql.
// They give way to graphql-codegen output once `make generate` produces it.

/** An RFC 3339 timestamp (the schema's Time scalar). */
export type Time = string;

/** The schema's Int64 scalar: a JSON number, or a string for values beyond 2^53. */
export type Int64 = number | string;

export type Role = 'ADMIN' | 'OPERATOR' | 'VIEWER';

export const CHANNELS = ['APP_PUSH', 'SMS', 'WECHAT', 'DINGTALK', 'VOICE', 'RCS', 'EMAIL', 'WEBHOOK'] as const;
export type Channel = (typeof CHANNELS)[number];

export const DELIVERY_STATUSES = [
  'QUEUED',
  'SENT',
  'DELIVERED',
  'DISPLAYED',
  'CLICKED',
  'FAILED',
  'SUPPRESSED',
  'REDUNDANT',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export type StatsDimension = 'DAY' | 'HOUR' | 'APP' | 'CHANNEL' | 'TEMPLATE' | 'TASK' | 'STATUS';

/** The error codes of API.md, found in a GraphQL error's `extensions.code`. */
export type ErrorCode =
  | 'BAD_INPUT'
  | 'NOT_FOUND'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export interface AppRef {
  id: string;
  name: string;
}

export interface Viewer {
  email: string | null;
  role: Role;
  apps: AppRef[];
}

export interface StatsInput {
  appId: string;
  from: Time;
  to: Time;
  dimensions: StatsDimension[];
  channel?: Channel;
  templateId?: string;
  taskId?: string;
  limit?: number;
}

export interface ChannelStatusRow {
  channel: Channel | null;
  status: DeliveryStatus | null;
  sent: Int64;
  delivered: Int64;
  failed: Int64;
}

export interface StatsTotals {
  sent: Int64;
  delivered: Int64;
  failed: Int64;
  suppressed: Int64;
}

export const TASK_STATUSES = ['DRAFT', 'SCHEDULED', 'RUNNING', 'PAUSED', 'COMPLETED', 'CANCELLED', 'FAILED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const TASK_KINDS = ['SINGLE', 'LIST', 'TAG', 'GROUP', 'BROADCAST'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export const LANES = ['REALTIME', 'BULK'] as const;
export type Lane = (typeof LANES)[number];

export type MessageClass = 'TRANSACTIONAL' | 'MARKETING';

/** A JSON object (the schema's JSON scalar). */
export type JSONObject = Record<string, unknown>;

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
}

export interface TaskProgress {
  total: Int64;
  shardsTotal: number;
  shardsDone: number;
  sent: Int64;
  delivered: Int64;
  displayed: Int64;
  clicked: Int64;
  failed: Int64;
  suppressed: Int64;
  fallbacks: Int64;
  redundant: Int64;
}

/** A task as the task list shows it. */
export interface TaskRow {
  id: string;
  name: string;
  kind: TaskKind;
  lane: Lane;
  status: TaskStatus;
  createdAt: Time;
}

/** A task with what its detail drawer shows. */
export interface TaskDetail extends TaskRow {
  cron: string | null;
  nextRunAt: Time | null;
  template: { id: string; name: string; version: number };
  rule: { id: string; name: string; version: number };
  progress: TaskProgress;
}

export interface Identity {
  channel: Channel;
  address: string;
}

export interface Message {
  id: string;
  channel: Channel;
  address: string;
  status: DeliveryStatus;
  title: string | null;
  body: string | null;
  sentAt: Time;
}

export interface UserDetail {
  id: string;
  attributes: JSONObject | null;
  tags: string[];
  identities: Identity[];
  messages: { edges: { node: Message }[] };
}

/** A user found by address, as the owner list shows it. */
export interface UserSummary {
  id: string;
  tags: string[];
  identities: Identity[];
}

/** The declared type of a template variable. */
export type VariableType = 'string' | 'number' | 'bool' | 'time';

export interface Variable {
  name: string;
  type: string;
  required: boolean;
}

export interface Variant {
  channel: Channel;
  title: string | null;
  body: string;
}

export interface Template {
  id: string;
  name: string;
  version: number;
  class: MessageClass;
  variables: Variable[];
  variants: Variant[];
  createdAt: Time;
}

export interface RenderedMessage {
  channel: Channel;
  title: string | null;
  body: string;
  extra: JSONObject | null;
  segments: number | null;
}
