import { describe, expect, it } from 'vitest';
import { dayRange, deliveryRate, formatCount, formatPercent, toNumber } from './format';

describe('toNumber', () => {
  it.each([
    [12, 12],
    ['12345678901', 12345678901],
    ['0', 0],
    ['', null],
    ['abc', null],
    [null, null],
    [undefined, null],
  ])('%j → %j', (input, want) => {
    expect(toNumber(input)).toBe(want);
  });
});

describe('formatCount', () => {
  it('groups digits the way each language does', () => {
    expect(formatCount(1234567, 'en')).toBe('1,234,567');
    expect(formatCount('1234567', 'zh-CN')).toBe('1,234,567');
    expect(formatCount(0, 'en')).toBe('0');
  });

  it('shows a dash for a missing value', () => {
    expect(formatCount(null, 'en')).toBe('—');
    expect(formatCount(undefined, 'zh-CN')).toBe('—');
  });
});

describe('deliveryRate', () => {
  it('is delivered over sent', () => {
    expect(deliveryRate(985, 1000)).toBeCloseTo(0.985);
    expect(deliveryRate('3', '4')).toBeCloseTo(0.75);
  });

  it('is null when nothing was sent', () => {
    expect(deliveryRate(0, 0)).toBeNull();
    expect(deliveryRate(5, null)).toBeNull();
  });
});

describe('formatPercent', () => {
  it('keeps at most one decimal', () => {
    expect(formatPercent(0.985, 'en')).toBe('98.5%');
    expect(formatPercent(1, 'zh-CN')).toBe('100%');
    expect(formatPercent(2 / 3, 'en')).toBe('66.7%');
  });

  it('shows a dash when there is no ratio', () => {
    expect(formatPercent(null, 'en')).toBe('—');
    expect(formatPercent(Number.NaN, 'en')).toBe('—');
  });
});

describe('dayRange', () => {
  it('spans local midnight to the next local midnight', () => {
    const now = new Date(2026, 10, 27, 15, 42, 7); // 27 Nov 2026, 15:42:07 local time
    const { from, to } = dayRange(now);
    expect(new Date(from)).toEqual(new Date(2026, 10, 27));
    expect(new Date(to)).toEqual(new Date(2026, 10, 28));
    expect(new Date(from).getTime()).toBeLessThanOrEqual(now.getTime());
    expect(new Date(to).getTime()).toBeGreaterThan(now.getTime());
  });

  it('rolls over month and year ends', () => {
    const { from, to } = dayRange(new Date(2026, 11, 31, 23, 59, 59));
    expect(new Date(from)).toEqual(new Date(2026, 11, 31));
    expect(new Date(to)).toEqual(new Date(2027, 0, 1));
  });

  it('writes RFC 3339 timestamps in UTC', () => {
    const { from, to } = dayRange(new Date(2026, 0, 15, 8));
    expect(from).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(to).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });
});
