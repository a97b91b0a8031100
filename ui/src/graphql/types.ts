// The console's names for the API's types: enums and shapes come from the code generated
// from schema.graphql and the operations (generated.ts); the lists of enum values are kept
// here, each checked against its generated type.
import type * as G from './generated';

export type {
  AudienceInput,
  AudienceKind,
  AudiencePreviewInput,
  Channel,
  DeliveryStatus,
  Lane,
  MessageClass,
  Milestone,
  Role,
  StatsDimension,
  StatsInput,
  Strategy,
  TaskInput,
  TaskKind,
  TaskStatus,
  TemplateInput,
  RuleInput,
  RouteInput,
  VariableInput,
  VariantInput,
} from './generated';

/** An RFC 3339 timestamp (the schema's Time scalar). */
export type Time = string;

/** The schema's Int64 scalar: a JSON number, or a string for values beyond 2^53. */
export type Int64 = number | string;

/** A JSON object (the schema's JSON scalar). */
export type JSONObject = Record<string, unknown>;

export const ROLES = ['ADMIN', 'OPERATOR', 'VIEWER'] as const satisfies readonly G.Role[];

export const CHANNELS = [
  'APP_PUSH',
  'SMS',
  'WECHAT',
  'DINGTALK',
  'VOICE',
  'RCS',
  'EMAIL',
  'WEBHOOK',
] as const satisfies readonly G.Channel[];

export const DELIVERY_STATUSES = [
  'QUEUED',
  'SENT',
  'DELIVERED',
  'DISPLAYED',
  'CLICKED',
  'FAILED',
  'SUPPRESSED',
  'REDUNDANT',
] as const satisfies readonly G.DeliveryStatus[];

export const STATS_DIMENSIONS = [
  'DAY',
  'HOUR',
  'APP',
  'CHANNEL',
  'TEMPLATE',
  'TASK',
  'STATUS',
] as const satisfies readonly G.StatsDimension[];

export const TASK_STATUSES = [
  'DRAFT',
  'SCHEDULED',
  'RUNNING',
  'PAUSED',
  'COMPLETED',
  'CANCELLED',
  'FAILED',
] as const satisfies readonly G.TaskStatus[];

export const TASK_KINDS = ['SINGLE', 'LIST', 'TAG', 'GROUP', 'BROADCAST'] as const satisfies readonly G.TaskKind[];

export const LANES = ['REALTIME', 'BULK'] as const satisfies readonly G.Lane[];

export const STRATEGIES = ['CONCURRENT', 'FALLBACK'] as const satisfies readonly G.Strategy[];

export const MILESTONES = ['SENT', 'DELIVERED', 'DISPLAYED', 'CLICKED'] as const satisfies readonly G.Milestone[];

export const AUDIENCE_KINDS = ['STATIC', 'TAG', 'SEGMENT', 'ALL'] as const satisfies readonly G.AudienceKind[];

export const MESSAGE_CLASSES = ['TRANSACTIONAL', 'MARKETING'] as const satisfies readonly G.MessageClass[];

/** The declared types a template or rule variable may have. */
export const VARIABLE_TYPES = ['string', 'number', 'bool', 'time'] as const;
export type VariableType = (typeof VARIABLE_TYPES)[number];

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

export type Viewer = G.ViewerFieldsFragment;
export type AppRef = Viewer['apps'][number];
export type ChannelStatusRow = G.TodayStatsQuery['stats']['rows'][number];
export type StatsTotals = G.TodayStatsQuery['stats']['totals'];
export type StatsRow = G.StatsQuery['stats']['rows'][number];
export type StatsCounts = G.StatsCountsFragment;
export type TaskRow = G.TaskRowFieldsFragment;
export type TaskProgress = G.ProgressFieldsFragment;
export type TaskDetail = G.TaskDetailFieldsFragment;
export type RunningTask = G.RunningTasksQuery['tasks']['edges'][number]['node'];
export type UserDetail = NonNullable<G.UserQuery['user']>;
export type Message = UserDetail['messages']['edges'][number]['node'];
export type Identity = UserDetail['identities'][number];
export type UserSummary = G.IdentityOwnersQuery['identityOwners'][number];
export type Template = G.TemplateFieldsFragment;
export type Variable = Template['variables'][number];
export type Variant = Template['variants'][number];
export type RenderedMessage = G.PreviewTemplateQuery['previewTemplate'];
export type Rule = G.RuleFieldsFragment;
export type Route = Rule['routes'][number];
export type RuleSimulation = G.SimulateRuleQuery['simulateRule'];
export type RoutePlan = G.PlanRouteQuery['planRoute'];
export type Audience = G.AudienceFieldsFragment;
export type AudienceSample = NonNullable<G.AudienceSampleQuery['audience']>;
export type AudiencePreview = G.PreviewAudienceQuery['previewAudience'];
export type ChannelStatus = G.ChannelsQuery['channels'][number];
export type ImportReport = G.ImportUsersMutation['importUsers'];
