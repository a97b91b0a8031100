import { describe, expect, it } from 'vitest';
import type { Edge } from '../graphql/types';
import { mergeEdges } from './paging';

const edge = (id: string, v = 0): Edge<{ id: string; v: number }> => ({ cursor: `c-${id}`, node: { id, v } });

describe('mergeEdges', () => {
  it('appends the next page', () => {
    const got = mergeEdges([edge('a'), edge('b')], [edge('c'), edge('d')]);
    expect(got.map((e) => e.node.id)).toEqual(['a', 'b', 'c', 'd']);
  });

  it('replaces a node shown already instead of listing it twice', () => {
    const got = mergeEdges([edge('a'), edge('b', 1)], [edge('b', 2), edge('c')]);
    expect(got.map((e) => e.node.id)).toEqual(['a', 'b', 'c']);
    expect(got[1]?.node.v).toBe(2);
  });

  it('handles empty pages and duplicates within a page', () => {
    expect(mergeEdges([], [])).toEqual([]);
    expect(mergeEdges([edge('a')], []).map((e) => e.node.id)).toEqual(['a']);
    expect(mergeEdges([], [edge('a'), edge('a')]).map((e) => e.node.id)).toEqual(['a']);
  });

  it('does not change its inputs', () => {
    const loaded = [edge('a')];
    mergeEdges(loaded, [edge('b')]);
    expect(loaded).toHaveLength(1);
  });
});
