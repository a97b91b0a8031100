import { CombinedError } from '@urql/core';
import { GraphQLError } from 'graphql';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { debounce, PREVIEW_DELAY_MS, PREVIEW_SAMPLE, previewInput, previewKey, previewProblem } from './audiencePreview';

describe('previewInput', () => {
  it('asks about what the form would create, without its name', () => {
    expect(previewInput('app1', { kind: 'TAG', expression: ' vip && !churned ' })).toEqual({
      appId: 'app1',
      kind: 'TAG',
      tagExpr: 'vip && !churned',
      sampleSize: PREVIEW_SAMPLE,
    });
    expect(previewInput('app1', { kind: 'SEGMENT', expression: 'age >= 30', name: 'ignored' })).toEqual({
      appId: 'app1',
      kind: 'SEGMENT',
      segment: 'age >= 30',
      sampleSize: PREVIEW_SAMPLE,
    });
    expect(previewInput('app1', { kind: 'STATIC', userIds: 'u1, u2\nu3' })).toMatchObject({ kind: 'STATIC', userIds: ['u1', 'u2', 'u3'] });
    expect(previewInput('app1', { kind: 'ALL' })).toEqual({ appId: 'app1', kind: 'ALL', sampleSize: PREVIEW_SAMPLE });
  });

  it('asks nothing about what the form refuses already', () => {
    expect(previewInput('app1', {})).toBeNull();
    expect(previewInput('app1', { kind: 'TAG', expression: '' })).toBeNull();
    expect(previewInput('app1', { kind: 'TAG', expression: 'vip &&' })).toBeNull();
    expect(previewInput('app1', { kind: 'SEGMENT', expression: '  ' })).toBeNull();
    expect(previewInput('app1', { kind: 'STATIC', userIds: 'u1\nu1' })).toBeNull();
    expect(previewInput('app1', { kind: 'STATIC', userIds: ' , ' })).toBeNull();
  });

  it('keys equal inputs alike and different ones apart', () => {
    const a = previewKey(previewInput('app1', { kind: 'TAG', expression: 'vip' }));
    expect(previewKey(previewInput('app1', { kind: 'TAG', expression: ' vip ' }))).toBe(a);
    expect(previewKey(previewInput('app1', { kind: 'TAG', expression: 'vipx' }))).not.toBe(a);
    expect(previewKey(previewInput('app2', { kind: 'TAG', expression: 'vip' }))).not.toBe(a);
    expect(previewKey(null)).toBeNull();
  });
});

describe('debounce', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs once, with the last value, after typing pauses', () => {
    const seen: string[] = [];
    const d = debounce((v: string) => seen.push(v), PREVIEW_DELAY_MS);
    for (const v of ['v', 'vi', 'vip']) {
      d.call(v);
      vi.advanceTimersByTime(PREVIEW_DELAY_MS - 1);
    }
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual(['vip']);
    d.call('vip && new');
    vi.advanceTimersByTime(PREVIEW_DELAY_MS);
    expect(seen).toEqual(['vip', 'vip && new']);
  });

  it('drops a pending call when cancelled', () => {
    const seen: string[] = [];
    const d = debounce((v: string) => seen.push(v), PREVIEW_DELAY_MS);
    d.call('vip');
    d.cancel();
    vi.advanceTimersByTime(PREVIEW_DELAY_MS * 2);
    expect(seen).toEqual([]);
  });
});

const apiError = (field: string, message: string) =>
  new CombinedError({ graphQLErrors: [new GraphQLError(message, { extensions: { code: 'BAD_INPUT', field } })] });

describe('previewProblem', () => {
  it('puts the API message on the field the form has', () => {
    expect(previewProblem(apiError('input.tagExpr', 'line 1, column 5: unexpected "$"'))).toEqual({
      field: 'expression',
      message: 'line 1, column 5: unexpected "$"',
    });
    expect(previewProblem(apiError('input.segment', 'line 1, column 17: no functions'))).toEqual({
      field: 'expression',
      message: 'line 1, column 17: no functions',
    });
    expect(previewProblem(apiError('input.userIds[1]', 'unknown user "nobody"'))).toEqual({
      field: 'userIds',
      message: 'unknown user "nobody"',
    });
  });

  it('leaves an error without a form field to the page', () => {
    expect(previewProblem(undefined)).toBeNull();
    expect(previewProblem(apiError('input.appId', 'no access to app 2'))).toBeNull();
    expect(previewProblem(new CombinedError({ graphQLErrors: [new GraphQLError('boom', { extensions: { code: 'INTERNAL' } })] }))).toBeNull();
  });
});
