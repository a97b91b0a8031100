// Shaping `stats` rows for the dashboard, task funnels and the reports explorer: series per
// day and channel, totals per channel, funnels, and the CSV of a table.
import type { Channel, StatsCounts, StatsDimension, StatsRow } from '../graphql/types';
import { toNumber } from './format';

/** The delivery counts the console charts, in funnel order, then failures. */
export const METRICS = ['sent', 'delivered', 'displayed', 'clicked', 'failed'] as const;
export type Metric = (typeof METRICS)[number];

/** Every count of a stats row, as the reports table shows them. */
export const COUNT_FIELDS = [
  'sent',
  'delivered',
  'displayed',
  'clicked',
  'failed',
  'suppressed',
  'redundant',
  'cost',
  'redundantCost',
  'savedByFallback',
  'savedCost',
] as const;
export type CountField = (typeof COUNT_FIELDS)[number];

/** The counts that are amounts of money (yuan) rather than messages. */
export const COST_FIELDS: ReadonlySet<CountField> = new Set<CountField>(['cost', 'redundantCost', 'savedCost']);

/** isCost reports whether a count is an amount of money. */
export function isCost(field: CountField): boolean {
  return COST_FIELDS.has(field);
}

/** count reads one count of a row as a number (0 when absent). */
export function count(row: Partial<StatsCounts> | null | undefined, field: CountField): number {
  const v = row?.[field];
  return typeof v === 'number' ? v : (toNumber(v ?? null) ?? 0);
}

/** A local calendar day as YYYY-MM-DD. */
export function localDay(d: Date): string {
  const m = String(d.getMonth() + 1).padStart(2, '0');
  const day = String(d.getDate()).padStart(2, '0');
  return `${d.getFullYear()}-${m}-${day}`;
}

/**
 * lastDays returns the days of the `days` local calendar days ending today, oldest first,
 * and the [from, to) range that covers them (to is the next midnight).
 */
export function lastDays(now: Date, days: number): { days: string[]; from: string; to: string } {
  const out: string[] = [];
  for (let i = days - 1; i >= 0; i--) {
    out.push(localDay(new Date(now.getFullYear(), now.getMonth(), now.getDate() - i)));
  }
  const from = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (days - 1));
  const to = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  return { days: out, from: from.toISOString(), to: to.toISOString() };
}

/** The channels that appear in rows, in the schema's order. */
export function channelsOf(rows: readonly Pick<StatsRow, 'channel'>[], order: readonly Channel[]): Channel[] {
  const seen = new Set(rows.map((r) => r.channel).filter((c): c is Channel => c !== null));
  return order.filter((c) => seen.has(c));
}

/**
 * dailySeries spreads DAY × CHANNEL rows over the given days: for each channel, the metric
 * per day (0 where a day has no row).
 */
export function dailySeries(
  rows: readonly StatsRow[],
  days: readonly string[],
  channels: readonly Channel[],
  metric: CountField,
): Map<Channel, number[]> {
  const index = new Map(days.map((d, i) => [d, i] as const));
  const out = new Map<Channel, number[]>(channels.map((c) => [c, days.map(() => 0)] as const));
  for (const row of rows) {
    if (!row.channel || !row.day) {
      continue;
    }
    const series = out.get(row.channel);
    const i = index.get(row.day);
    if (series && i !== undefined) {
      series[i] = (series[i] ?? 0) + count(row, metric);
    }
  }
  return out;
}

/** dailyTotals sums a metric over every channel for each day. */
export function dailyTotals(rows: readonly StatsRow[], days: readonly string[], metric: CountField): number[] {
  const index = new Map(days.map((d, i) => [d, i] as const));
  const out = days.map(() => 0);
  for (const row of rows) {
    const i = row.day ? index.get(row.day) : undefined;
    if (i !== undefined) {
      out[i] = (out[i] ?? 0) + count(row, metric);
    }
  }
  return out;
}

export type ChannelCounts = Record<CountField, number>;

function zeroCounts(): ChannelCounts {
  return {
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
  };
}

/** byChannel adds rows up per channel. */
export function byChannel(rows: readonly StatsRow[]): Map<Channel, ChannelCounts> {
  const out = new Map<Channel, ChannelCounts>();
  for (const row of rows) {
    if (!row.channel) {
      continue;
    }
    const c = out.get(row.channel) ?? zeroCounts();
    for (const f of COUNT_FIELDS) {
      c[f] += count(row, f);
    }
    out.set(row.channel, c);
  }
  return out;
}

/** One step of a delivery funnel: its count and its share of the first step. */
export interface FunnelStep {
  metric: 'sent' | 'delivered' | 'displayed' | 'clicked';
  value: number;
  /** value / sent, or null when nothing was sent. */
  ratio: number | null;
}

/** funnel is sent → delivered → displayed → clicked of one channel's counts. */
export function funnel(counts: Partial<ChannelCounts>): FunnelStep[] {
  const sent = counts.sent ?? 0;
  return (['sent', 'delivered', 'displayed', 'clicked'] as const).map((metric) => {
    const value = counts[metric] ?? 0;
    return { metric, value, ratio: sent > 0 ? value / sent : null };
  });
}

/** The column of a dimension in a stats row. */
export const DIMENSION_FIELD: Record<StatsDimension, keyof StatsRow> = {
  DAY: 'day',
  HOUR: 'hour',
  APP: 'appId',
  CHANNEL: 'channel',
  TEMPLATE: 'templateId',
  TASK: 'taskId',
  STATUS: 'status',
};

/** rowLabel names a row by its dimension values ("2026-03-10 · SMS"), with label() per value. */
export function rowLabel(
  row: StatsRow,
  dimensions: readonly StatsDimension[],
  label: (dimension: StatsDimension, value: string) => string = (_d, v) => v,
): string {
  return (
    dimensions
      .map((d) => {
        const v = row[DIMENSION_FIELD[d]];
        return v === null || v === undefined ? '—' : label(d, String(v));
      })
      .join(' · ') || '∑'
  );
}

/** csvCell quotes a cell when it holds a comma, quote or line break (RFC 4180). */
export function csvCell(value: unknown): string {
  const s = value === null || value === undefined ? '' : String(value);
  // A leading = + - @ would make a spreadsheet run a formula: keep it text.
  const safe = /^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

/** toCSV writes a header and rows as CSV with CRLF line ends. */
export function toCSV(header: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
