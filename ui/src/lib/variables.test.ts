import { describe, expect, it } from 'vitest';
import type { Variable } from '../graphql/types';
import { buildVariables } from './variables';

const declared: Variable[] = [
  { name: 'code', type: 'string', required: true },
  { name: 'amount', type: 'number', required: true },
  { name: 'vip', type: 'bool', required: false },
  { name: 'expires', type: 'time', required: false },
  { name: 'note', type: 'string', required: false },
];

describe('buildVariables', () => {
  it('converts each value to its declared type', () => {
    const got = buildVariables(declared, {
      code: '123456',
      amount: '42.5',
      vip: true,
      expires: new Date('2026-01-02T03:04:05Z'),
      note: 'hi',
    });
    expect(got.errors).toEqual([]);
    expect(got.variables).toEqual({
      code: '123456',
      amount: 42.5,
      vip: true,
      expires: '2026-01-02T03:04:05.000Z',
      note: 'hi',
    });
  });

  it('takes numbers as numbers, bool strings and dayjs-like times', () => {
    const dayjsLike = { toISOString: () => '2026-05-01T00:00:00.000Z' };
    const got = buildVariables(declared, { code: 7, amount: 0, vip: 'false', expires: dayjsLike });
    expect(got.errors).toEqual([]);
    expect(got.variables).toEqual({ code: '7', amount: 0, vip: false, expires: '2026-05-01T00:00:00.000Z' });
  });

  it('leaves out blank optional variables and reports blank required ones', () => {
    const got = buildVariables(declared, { code: '  ', note: '', expires: null });
    expect(got.variables).toEqual({});
    expect(got.errors).toEqual([
      { name: 'code', problem: 'required' },
      { name: 'amount', problem: 'required' },
    ]);
  });

  it('reports values that are not of their type', () => {
    const got = buildVariables(declared, { code: 'x', amount: 'lots', vip: 'maybe', expires: 'not a time' });
    expect(got.variables).toEqual({ code: 'x' });
    expect(got.errors).toEqual([
      { name: 'amount', problem: 'number' },
      { name: 'vip', problem: 'bool' },
      { name: 'expires', problem: 'time' },
    ]);
  });

  it('ignores values the template does not declare', () => {
    const got = buildVariables([{ name: 'a', type: 'string', required: false }], { a: 'x', b: 'y' });
    expect(got.variables).toEqual({ a: 'x' });
  });
});
