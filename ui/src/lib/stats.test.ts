import { describe, expect, it } from 'vitest';
import type { StatsRow } from '../graphql/types';
import { byChannel, channelsOf, csvCell, dailySeries, dailyTotals, funnel, isCost, lastDays, rowLabel, toCSV } from './stats';

function row(over: Partial<StatsRow>): StatsRow {
  return {
    day: null,
    hour: null,
    appId: null,
    channel: null,
    templateId: null,
    taskId: null,
    status: null,
    sent: 0,
    delivered: 0,
    displayed: 0,
    clicked: 0,
    failed: 0,
    suppressed: 0,
    redundant: 0,
    cost: 0,
    redundantCost: 0,
    savedByFallback: 0,
    savedCost: 0,
    ...over,
  };
}

describe('lastDays', () => {
  it('lists the days ending today, oldest first, and their range', () => {
    const r = lastDays(new Date(2026, 2, 2, 15, 0), 3);
    expect(r.days).toEqual(['2026-02-28', '2026-03-01', '2026-03-02']);
    expect(new Date(r.from).getTime()).toBe(new Date(2026, 1, 28).getTime());
    expect(new Date(r.to).getTime()).toBe(new Date(2026, 2, 3).getTime());
  });
});

describe('series', () => {
  const rows = [
    row({ day: '2026-03-01', channel: 'SMS', sent: 10, delivered: 9, cost: 0.5 }),
    row({ day: '2026-03-02', channel: 'SMS', sent: '20', delivered: 18, cost: 1, redundantCost: 0.25 }),
    row({ day: '2026-03-02', channel: 'APP_PUSH', sent: 5, clicked: 2, savedByFallback: 3, savedCost: 0.135 }),
    row({ day: '2026-02-01', channel: 'SMS', sent: 99 }), // outside the days
  ];
  const days = ['2026-03-01', '2026-03-02'];

  it('spreads a metric per channel and day', () => {
    const s = dailySeries(rows, days, ['APP_PUSH', 'SMS'], 'sent');
    expect(s.get('SMS')).toEqual([10, 20]);
    expect(s.get('APP_PUSH')).toEqual([0, 5]);
    expect(dailyTotals(rows, days, 'sent')).toEqual([10, 25]);
  });

  it('finds the channels present, in order', () => {
    expect(channelsOf(rows, ['APP_PUSH', 'SMS', 'EMAIL'])).toEqual(['APP_PUSH', 'SMS']);
  });

  it('adds up per channel, costs and savings included', () => {
    const c = byChannel(rows);
    expect(c.get('SMS')).toMatchObject({ sent: 129, delivered: 27, cost: 1.5, redundantCost: 0.25, savedByFallback: 0 });
    expect(c.get('APP_PUSH')).toMatchObject({ sent: 5, clicked: 2, savedByFallback: 3, savedCost: 0.135 });
  });

  it('tells amounts of money from counts of messages', () => {
    expect(isCost('cost')).toBe(true);
    expect(isCost('redundantCost')).toBe(true);
    expect(isCost('savedCost')).toBe(true);
    expect(isCost('savedByFallback')).toBe(false);
    expect(isCost('redundant')).toBe(false);
  });
});

describe('funnel', () => {
  it('gives each step as a share of sent', () => {
    expect(funnel({ sent: 200, delivered: 180, displayed: 90, clicked: 9 })).toEqual([
      { metric: 'sent', value: 200, ratio: 1 },
      { metric: 'delivered', value: 180, ratio: 0.9 },
      { metric: 'displayed', value: 90, ratio: 0.45 },
      { metric: 'clicked', value: 9, ratio: 0.045 },
    ]);
    expect(funnel({}).every((s) => s.ratio === null)).toBe(true);
  });
});

describe('rowLabel', () => {
  it('joins the dimension values', () => {
    const r = row({ day: '2026-03-01', channel: 'SMS' });
    expect(rowLabel(r, ['DAY', 'CHANNEL'])).toBe('2026-03-01 · SMS');
    expect(rowLabel(r, ['DAY', 'CHANNEL'], (d, v) => (d === 'CHANNEL' ? `#${v}` : v))).toBe('2026-03-01 · #SMS');
    expect(rowLabel(r, ['STATUS'])).toBe('—');
    expect(rowLabel(r, [])).toBe('∑');
  });
});

describe('CSV', () => {
  it('quotes what needs quoting and defuses formulas', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('=SUM(A1)')).toBe("'=SUM(A1)");
    expect(csvCell(-3)).toBe('-3');
    expect(csvCell(null)).toBe('');
  });

  it('writes a header and rows with CRLF', () => {
    expect(toCSV(['day', 'sent'], [['2026-03-01', 10], ['2026-03-02', 0]])).toBe('day,sent\r\n2026-03-01,10\r\n2026-03-02,0\r\n');
  });
});
