import { describe, expect, it } from 'vitest';
import { isLive, progressPercent, taskActions } from './progress';

describe('progressPercent', () => {
  it.each([
    [0, 10, 0],
    [1, 3, 33],
    [2, 3, 66],
    [999, 1000, 99],
    [10, 10, 100],
    [12, 10, 100],
    [-1, 10, 0],
  ])('%i of %i shards → %i%%', (done, total, want) => {
    expect(progressPercent(done, total)).toBe(want);
  });

  it('calls a task without shards done only once it completed', () => {
    expect(progressPercent(0, 0, 'RUNNING')).toBe(0);
    expect(progressPercent(0, 0, 'COMPLETED')).toBe(100);
    expect(progressPercent(0, 0)).toBe(0);
  });
});

describe('isLive', () => {
  it('polls only running tasks', () => {
    expect(isLive('RUNNING')).toBe(true);
    expect(isLive('PAUSED')).toBe(false);
    expect(isLive('COMPLETED')).toBe(false);
    expect(isLive(undefined)).toBe(false);
  });
});

describe('taskActions', () => {
  it('offers what the status allows', () => {
    expect(taskActions('RUNNING')).toEqual({ pause: true, resume: false, cancel: true });
    expect(taskActions('PAUSED')).toEqual({ pause: false, resume: true, cancel: true });
    expect(taskActions('COMPLETED')).toEqual({ pause: false, resume: false, cancel: false });
    expect(taskActions('CANCELLED')).toEqual({ pause: false, resume: false, cancel: false });
    expect(taskActions('FAILED')).toEqual({ pause: false, resume: false, cancel: false });
  });
});
