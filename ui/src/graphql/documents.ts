// The console's GraphQL operations, typed by hand (see types.ts).
import { gql } from '@urql/core';
import type {
  Channel,
  ChannelStatusRow,
  Connection,
  JSONObject,
  RenderedMessage,
  StatsInput,
  StatsTotals,
  TaskDetail,
  TaskRow,
  TaskStatus,
  Template,
  UserDetail,
  UserSummary,
  Viewer,
} from './types';

const viewerFields = `
  email
  role
  apps {
    id
    name
  }
`;

export interface MeData {
  me: Viewer;
}

export const MeQuery = gql<MeData, Record<string, never>>(`
  query Me {
    me {${viewerFields}}
  }
`);

export interface LoginData {
  login: Viewer;
}

export interface LoginVariables {
  email: string;
  password: string;
}

export const LoginMutation = gql<LoginData, LoginVariables>(`
  mutation Login($email: String!, $password: String!) {
    login(email: $email, password: $password) {${viewerFields}}
  }
`);

export interface LogoutData {
  logout: boolean;
}

export const LogoutMutation = gql<LogoutData, Record<string, never>>(`
  mutation Logout {
    logout
  }
`);

export interface TodayStatsData {
  stats: {
    rows: ChannelStatusRow[];
    totals: StatsTotals;
  };
}

export interface TodayStatsVariables {
  input: StatsInput;
}

export const TodayStatsQuery = gql<TodayStatsData, TodayStatsVariables>(`
  query TodayStats($input: StatsInput!) {
    stats(input: $input) {
      rows {
        channel
        status
        sent
        delivered
        failed
      }
      totals {
        sent
        delivered
        failed
        suppressed
      }
    }
  }
`);

const taskRowFields = `
  id
  name
  kind
  lane
  status
  createdAt
`;

export interface TasksData {
  tasks: Connection<TaskRow>;
}

export interface TasksVariables {
  appId: string;
  status?: TaskStatus | null;
  first?: number;
  after?: string | null;
}

export const TasksQuery = gql<TasksData, TasksVariables>(`
  query Tasks($appId: ID!, $status: TaskStatus, $first: Int, $after: String) {
    tasks(appId: $appId, status: $status, first: $first, after: $after) {
      edges {
        cursor
        node {${taskRowFields}}
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const taskDetailFields = `${taskRowFields}
  cron
  nextRunAt
  template {
    id
    name
    version
  }
  rule {
    id
    name
    version
  }
  progress {
    total
    shardsTotal
    shardsDone
    sent
    delivered
    displayed
    clicked
    failed
    suppressed
    fallbacks
    redundant
  }
`;

export interface TaskData {
  task: TaskDetail | null;
}

export interface TaskVariables {
  id: string;
}

export const TaskQuery = gql<TaskData, TaskVariables>(`
  query Task($id: ID!) {
    task(id: $id) {${taskDetailFields}}
  }
`);

export interface PauseTaskData {
  pauseTask: TaskDetail;
}

export const PauseTaskMutation = gql<PauseTaskData, TaskVariables>(`
  mutation PauseTask($id: ID!) {
    pauseTask(id: $id) {${taskDetailFields}}
  }
`);

export interface ResumeTaskData {
  resumeTask: TaskDetail;
}

export const ResumeTaskMutation = gql<ResumeTaskData, TaskVariables>(`
  mutation ResumeTask($id: ID!) {
    resumeTask(id: $id) {${taskDetailFields}}
  }
`);

export interface CancelTaskData {
  cancelTask: TaskDetail;
}

export const CancelTaskMutation = gql<CancelTaskData, TaskVariables>(`
  mutation CancelTask($id: ID!) {
    cancelTask(id: $id) {${taskDetailFields}}
  }
`);

export interface UserData {
  user: UserDetail | null;
}

export interface UserVariables {
  appId: string;
  id: string;
}

export const UserQuery = gql<UserData, UserVariables>(`
  query User($appId: ID!, $id: ID!) {
    user(appId: $appId, id: $id) {
      id
      attributes
      tags
      identities {
        channel
        address
      }
      messages(first: 20) {
        edges {
          node {
            id
            channel
            address
            status
            title
            body
            sentAt
          }
        }
      }
    }
  }
`);

export interface IdentityOwnersData {
  identityOwners: UserSummary[];
}

export interface IdentityOwnersVariables {
  appId: string;
  channel: Channel;
  address: string;
}

export const IdentityOwnersQuery = gql<IdentityOwnersData, IdentityOwnersVariables>(`
  query IdentityOwners($appId: ID!, $channel: Channel!, $address: String!) {
    identityOwners(appId: $appId, channel: $channel, address: $address) {
      id
      tags
      identities {
        channel
        address
      }
    }
  }
`);

export interface TemplatesData {
  templates: Template[];
}

export interface TemplatesVariables {
  appId: string;
}

export const TemplatesQuery = gql<TemplatesData, TemplatesVariables>(`
  query Templates($appId: ID!) {
    templates(appId: $appId) {
      id
      name
      version
      class
      variables {
        name
        type
        required
      }
      variants {
        channel
        title
        body
      }
      createdAt
    }
  }
`);

export interface PreviewTemplateData {
  previewTemplate: RenderedMessage;
}

export interface PreviewTemplateVariables {
  id: string;
  channel: Channel;
  variables: JSONObject;
}

export const PreviewTemplateQuery = gql<PreviewTemplateData, PreviewTemplateVariables>(`
  query PreviewTemplate($id: ID!, $channel: Channel!, $variables: JSON) {
    previewTemplate(id: $id, channel: $channel, variables: $variables) {
      channel
      title
      body
      extra
      segments
    }
  }
`);
