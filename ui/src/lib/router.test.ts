import { describe, expect, it } from 'vitest';
import { parseRoute, routeHash } from './router';

describe('parseRoute', () => {
  it.each([
    ['', { page: 'dashboard', id: null }],
    ['#/', { page: 'dashboard', id: null }],
    ['#/today', { page: 'dashboard', id: null }],
    ['#/rules/r1', { page: 'rules', id: 'r1' }],
    ['#/explorer', { page: 'explorer', id: null }],
    ['#/tasks', { page: 'tasks', id: null }],
    ['#/tasks/t1', { page: 'tasks', id: 't1' }],
    ['#/users/u%2F1', { page: 'users', id: 'u/1' }],
    ['#/templates', { page: 'templates', id: null }],
    ['#/nowhere', { page: 'dashboard', id: null }],
    ['#/users/%E0%A4%A', { page: 'users', id: null }],
  ])('%s', (hash, want) => {
    expect(parseRoute(hash)).toEqual(want);
  });

  it('round-trips through routeHash', () => {
    const route = { page: 'users', id: 'user 1/2' } as const;
    expect(parseRoute(routeHash(route))).toEqual(route);
    expect(routeHash({ page: 'tasks', id: null })).toBe('#/tasks');
  });
});
