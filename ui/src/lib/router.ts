// A tiny hash router: #/tasks, #/tasks/<id>, #/users/<id>, … (the console is one page served
// by Herald, so the hash keeps every route reloadable without server routes).
import { useCallback, useEffect, useState } from 'react';

export const PAGES = [
  'dashboard',
  'tasks',
  'users',
  'audiences',
  'templates',
  'rules',
  'reports',
  'channels',
  'explorer',
] as const;
export type Page = (typeof PAGES)[number];

export interface Route {
  page: Page;
  /** The object the page opens (a task id, a user id), when the route names one. */
  id: string | null;
}

const DEFAULT_ROUTE: Route = { page: 'dashboard', id: null };

/** Older names of pages, still followed: #/today is the dashboard. */
const ALIASES: Record<string, Page> = { today: 'dashboard' };

/** parseRoute reads a location hash; anything unknown is the default page. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#?\/?/, '').split('/');
  const page = ALIASES[parts[0] ?? ''] ?? parts[0] ?? '';
  if (!(PAGES as readonly string[]).includes(page)) {
    return DEFAULT_ROUTE;
  }
  let id: string | null = null;
  if (parts[1]) {
    try {
      id = decodeURIComponent(parts.slice(1).join('/'));
    } catch {
      id = null;
    }
  }
  return { page: page as Page, id };
}

/** routeHash writes a route as a location hash. */
export function routeHash(route: Route): string {
  return route.id ? `#/${route.page}/${encodeURIComponent(route.id)}` : `#/${route.page}`;
}

/** useRoute follows the location hash and returns the current route and a way to change it. */
export function useRoute(): [Route, (route: Route) => void] {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  const navigate = useCallback((next: Route) => {
    const hash = routeHash(next);
    if (window.location.hash !== hash) {
      window.location.hash = hash;
    }
    setRoute(next);
  }, []);
  return [route, navigate];
}
