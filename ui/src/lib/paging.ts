// Cursor paging: "load more" appends the next page to what is shown.
import type { Edge } from '../graphql/types';

/**
 * mergeEdges appends a page to the edges loaded so far. A node already shown (by id) is
 * replaced in place with its newer copy rather than listed twice, which happens when rows
 * are inserted ahead of the cursor between two pages.
 */
export function mergeEdges<T extends { id: string }>(loaded: readonly Edge<T>[], page: readonly Edge<T>[]): Edge<T>[] {
  const fresh = new Map(page.map((e) => [e.node.id, e] as const));
  const merged = loaded.map((e) => {
    const newer = fresh.get(e.node.id);
    if (newer) {
      fresh.delete(e.node.id);
      return newer;
    }
    return e;
  });
  for (const e of page) {
    if (fresh.has(e.node.id)) {
      merged.push(e);
      fresh.delete(e.node.id);
    }
  }
  return merged;
}
