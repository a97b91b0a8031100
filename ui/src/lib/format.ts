// Number, ratio and date formatting for the console's pages.
import type { Int64 } from '../graphql/types';

const PLACEHOLDER = '—';

/** toNumber turns an Int64 (number or decimal string) into a number; null when it is none. */
export function toNumber(value: Int64 | null | undefined): number | null {
  if (value === null || value === undefined || value === '') {
    return null;
  }
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

/** formatCount writes a count with the locale's digit grouping ("12,345"), or "—". */
export function formatCount(value: Int64 | null | undefined, locale: string): string {
  const n = toNumber(value);
  return n === null ? PLACEHOLDER : new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(n);
}

/** deliveryRate is delivered / sent, or null when nothing was sent. */
export function deliveryRate(delivered: Int64 | null | undefined, sent: Int64 | null | undefined): number | null {
  const d = toNumber(delivered);
  const s = toNumber(sent);
  if (d === null || s === null || s <= 0) {
    return null;
  }
  return d / s;
}

/** formatPercent writes a ratio as a percentage with at most one decimal ("98.5%"), or "—". */
export function formatPercent(ratio: number | null, locale: string): string {
  if (ratio === null || !Number.isFinite(ratio)) {
    return PLACEHOLDER;
  }
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 1 }).format(ratio);
}

/** A half-open time range [from, to) as RFC 3339 timestamps, for StatsInput. */
export interface TimeRange {
  from: string;
  to: string;
}

/**
 * dayRange returns the local calendar day that contains `now`: from its midnight up to the
 * next midnight (23, 24 or 25 hours, as daylight saving time has it).
 */
export function dayRange(now: Date): TimeRange {
  const start = new Date(now.getFullYear(), now.getMonth(), now.getDate());
  const end = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
  return { from: start.toISOString(), to: end.toISOString() };
}
