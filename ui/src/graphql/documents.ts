// The console's GraphQL operations, typed by hand (see types.ts).
import { gql } from '@urql/core';
import type { ChannelStatusRow, StatsInput, StatsTotals, Viewer } from './types';

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
