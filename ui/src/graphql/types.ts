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
