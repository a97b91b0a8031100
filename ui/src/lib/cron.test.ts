import { describe, expect, it } from 'vitest';
import { checkCron, CronError, nextRun, nextRuns, parseCron, parseGoDuration } from './cron';

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const from = new Date('2026-03-10T10:17:30Z'); // a Tuesday

describe('parseCron', () => {
  it('reads the five standard fields with lists, ranges, steps and names', () => {
    const s = parseCron('*/15 9-17 * JAN,mar mon-fri');
    if (s.kind !== 'fields') throw new Error('fields expected');
    expect([...s.minute.values]).toEqual([0, 15, 30, 45]);
    expect([...s.hour.values]).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17]);
    expect([...s.month.values]).toEqual([1, 3]);
    expect([...s.dow.values]).toEqual([1, 2, 3, 4, 5]);
    expect(s.minute.star).toBe(false);
    expect(s.dom.star).toBe(true);
  });

  it('reads N/step as N to the maximum', () => {
    const s = parseCron('5/20 * * * *');
    if (s.kind !== 'fields') throw new Error('fields expected');
    expect([...s.minute.values]).toEqual([5, 25, 45]);
  });

  it('refuses what Herald refuses', () => {
    for (const [expr, problem] of [
      ['', 'empty'],
      ['* * * *', 'fields'],
      ['* * * * * *', 'fields'],
      ['60 * * * *', 'value'],
      ['* 24 * * *', 'value'],
      ['* * 0 * *', 'value'],
      ['* * * 13 *', 'value'],
      ['* * * * 7', 'value'],
      ['5-1 * * * *', 'value'],
      ['*/0 * * * *', 'value'],
      ['x * * * *', 'value'],
      ['@fortnightly', 'descriptor'],
      ['@every soon', 'descriptor'],
      ['CRON_TZ=Mars/Base 0 9 * * *', 'zone'],
    ] as const) {
      expect(() => parseCron(expr), expr).toThrowError(CronError);
      try {
        parseCron(expr);
      } catch (e) {
        expect((e as CronError).problem, expr).toBe(problem);
      }
    }
  });
});

describe('nextRuns', () => {
  it('lists the next runs of a daily schedule in UTC', () => {
    expect(iso(nextRuns(parseCron('30 9 * * *'), from, 3))).toEqual([
      '2026-03-11T09:30:00.000Z',
      '2026-03-12T09:30:00.000Z',
      '2026-03-13T09:30:00.000Z',
    ]);
  });

  it('starts after the given time, not at it', () => {
    expect(nextRun(parseCron('* * * * *'), new Date('2026-03-10T10:17:00Z'))?.toISOString()).toBe('2026-03-10T10:18:00.000Z');
  });

  it('knows descriptors', () => {
    expect(nextRun(parseCron('@hourly'), from)?.toISOString()).toBe('2026-03-10T11:00:00.000Z');
    expect(nextRun(parseCron('@daily'), from)?.toISOString()).toBe('2026-03-11T00:00:00.000Z');
    expect(nextRun(parseCron('@weekly'), from)?.toISOString()).toBe('2026-03-15T00:00:00.000Z');
    expect(nextRun(parseCron('@monthly'), from)?.toISOString()).toBe('2026-04-01T00:00:00.000Z');
    expect(nextRun(parseCron('@yearly'), from)?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(nextRun(parseCron('@every 1h30m'), from)?.toISOString()).toBe('2026-03-10T11:47:30.000Z');
  });

  it('fires on either day field when both are restricted, on both when one is *', () => {
    // The 13th or any Friday.
    expect(iso(nextRuns(parseCron('0 0 13 * 5'), from, 3))).toEqual([
      '2026-03-13T00:00:00.000Z',
      '2026-03-20T00:00:00.000Z',
      '2026-03-27T00:00:00.000Z',
    ]);
    // Weekdays only.
    expect(iso(nextRuns(parseCron('0 8 * * 1-5'), new Date('2026-03-13T09:00:00Z'), 2))).toEqual([
      '2026-03-16T08:00:00.000Z',
      '2026-03-17T08:00:00.000Z',
    ]);
  });

  it('skips months without the day', () => {
    expect(iso(nextRuns(parseCron('0 0 31 * *'), from, 3))).toEqual([
      '2026-03-31T00:00:00.000Z',
      '2026-05-31T00:00:00.000Z',
      '2026-07-31T00:00:00.000Z',
    ]);
    expect(iso(nextRuns(parseCron('0 0 29 2 *'), from, 1))).toEqual(['2028-02-29T00:00:00.000Z']);
  });

  it('evaluates in the CRON_TZ zone', () => {
    // 09:00 in Shanghai (UTC+8) is 01:00 UTC.
    expect(nextRun(parseCron('CRON_TZ=Asia/Shanghai 0 9 * * *'), from)?.toISOString()).toBe('2026-03-11T01:00:00.000Z');
    // New York is on daylight saving time (UTC-4) from 8 March 2026.
    expect(nextRun(parseCron('TZ=America/New_York 0 9 * * *'), from)?.toISOString()).toBe('2026-03-10T13:00:00.000Z');
  });
});

describe('checkCron', () => {
  it('answers the runs, or the problem', () => {
    const ok = checkCron('0 12 * * *', from, 2);
    expect(ok.ok && iso(ok.next)).toEqual(['2026-03-10T12:00:00.000Z', '2026-03-11T12:00:00.000Z']);
    const never = checkCron('0 0 30 2 *', from);
    expect(never).toMatchObject({ ok: false, problem: 'never' });
    expect(checkCron('nope', from)).toMatchObject({ ok: false, problem: 'fields' });
  });
});

describe("Herald's time zone", () => {
  it('evaluates a schedule without CRON_TZ in the zone Herald gives', () => {
    // 09:00 in Shanghai (UTC+8, no daylight saving) is 01:00 UTC; it is past 01:00 UTC on the 10th.
    const ok = checkCron('0 9 * * *', from, 3, 'Asia/Shanghai');
    expect(ok.ok && ok.schedule.zone).toBe('Asia/Shanghai');
    expect(ok.ok && iso(ok.next)).toEqual(['2026-03-11T01:00:00.000Z', '2026-03-12T01:00:00.000Z', '2026-03-13T01:00:00.000Z']);
    // The same expression in UTC fires 8 hours later on the wall clock of the world.
    const utc = checkCron('0 9 * * *', from, 1, null);
    expect(utc.ok && iso(utc.next)).toEqual(['2026-03-11T09:00:00.000Z']);
  });

  it('follows daylight saving time in the zone', () => {
    // New York moves from UTC-5 to UTC-4 on 8 March 2026: 08:30 is 13:30 UTC, then 12:30 UTC.
    const ok = checkCron('30 8 * * *', new Date('2026-03-06T12:00:00Z'), 3, 'America/New_York');
    expect(ok.ok && iso(ok.next)).toEqual(['2026-03-06T13:30:00.000Z', '2026-03-07T13:30:00.000Z', '2026-03-08T12:30:00.000Z']);
  });

  it('lets CRON_TZ name another zone', () => {
    const ok = checkCron('CRON_TZ=UTC 0 9 * * *', from, 1, 'Asia/Shanghai');
    expect(ok.ok && iso(ok.next)).toEqual(['2026-03-11T09:00:00.000Z']);
  });

  it('reads a zone the browser does not know as UTC', () => {
    const ok = checkCron('0 9 * * *', from, 1, 'Mars/Base');
    expect(ok.ok && ok.schedule.zone).toBeNull();
    expect(ok.ok && iso(ok.next)).toEqual(['2026-03-11T09:00:00.000Z']);
  });
});

describe('parseGoDuration', () => {
  it('reads Go durations', () => {
    expect(parseGoDuration('90s')).toBe(90);
    expect(parseGoDuration('1h30m')).toBe(5400);
    expect(parseGoDuration('1.5h')).toBe(5400);
    expect(parseGoDuration('5')).toBeNull();
    expect(parseGoDuration('')).toBeNull();
  });
});
