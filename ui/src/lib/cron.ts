// Cron schedules as Herald reads them (robfig/cron's standard parser: minute hour
// day-of-month month day-of-week, or a descriptor such as @daily), so a task form can check
// an expression and show its next runs before anything is sent. Herald evaluates schedules
// in its time zone (HERALD_TIME_ZONE, the viewer's timeZone); an expression may name another
// with a CRON_TZ= (or TZ=) prefix.

export type CronProblem =
  | 'empty'
  | 'fields' // not five fields
  | 'value' // a value, range or step out of bounds or unreadable
  | 'descriptor' // an unknown @descriptor
  | 'zone' // an unknown CRON_TZ zone
  | 'never'; // it parses but never fires

export class CronError extends Error {
  constructor(
    readonly problem: CronProblem,
    message: string,
  ) {
    super(message);
    this.name = 'CronError';
  }
}

interface Bounds {
  min: number;
  max: number;
  names?: readonly string[];
}

const MINUTE: Bounds = { min: 0, max: 59 };
const HOUR: Bounds = { min: 0, max: 23 };
const DOM: Bounds = { min: 1, max: 31 };
const MONTH: Bounds = {
  min: 1,
  max: 12,
  names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'],
};
const DOW: Bounds = { min: 0, max: 6, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] };

/** A field: the values it allows, and whether it was written as * (or ?). */
interface Field {
  values: ReadonlySet<number>;
  star: boolean;
}

export type CronSchedule =
  | {
      kind: 'fields';
      zone: string | null;
      minute: Field;
      hour: Field;
      dom: Field;
      month: Field;
      dow: Field;
    }
  | { kind: 'every'; zone: string | null; seconds: number };

function parseNumber(s: string, b: Bounds): number {
  const lower = s.toLowerCase();
  if (b.names) {
    const i = b.names.indexOf(lower);
    if (i >= 0) {
      return i + b.min;
    }
  }
  if (!/^\d+$/.test(s)) {
    throw new CronError('value', `"${s}" is not a number`);
  }
  return Number(s);
}

function parseField(expr: string, b: Bounds): Field {
  const values = new Set<number>();
  let star = false;
  for (const part of expr.split(',')) {
    const [rangeExpr = '', stepExpr, extra] = part.split('/');
    if (extra !== undefined) {
      throw new CronError('value', `"${part}" has two steps`);
    }
    let start: number;
    let end: number;
    let partStar = false;
    if (rangeExpr === '*' || rangeExpr === '?') {
      start = b.min;
      end = b.max;
      partStar = true;
    } else {
      const [lo = '', hi, more] = rangeExpr.split('-');
      if (more !== undefined) {
        throw new CronError('value', `"${rangeExpr}" is not a range`);
      }
      start = parseNumber(lo, b);
      end = hi === undefined ? start : parseNumber(hi, b);
    }
    let step = 1;
    if (stepExpr !== undefined) {
      step = parseNumber(stepExpr, { min: 1, max: Number.MAX_SAFE_INTEGER });
      if (step <= 0) {
        throw new CronError('value', `step of "${part}" must be positive`);
      }
      if (!partStar && !rangeExpr.includes('-')) {
        end = b.max; // "N/step" means N-max/step
      }
      if (step > 1) {
        partStar = false;
      }
    }
    if (start < b.min || end > b.max || start > end) {
      throw new CronError('value', `"${part}" is out of ${b.min}-${b.max}`);
    }
    for (let v = start; v <= end; v += step) {
      values.add(v);
    }
    star ||= partStar;
  }
  return { values, star };
}

const DESCRIPTORS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** parseGoDuration reads a Go duration such as 1h30m or 90s, as @every takes it, in seconds. */
export function parseGoDuration(s: string): number | null {
  const re = /(\d+(?:\.\d+)?)(h|m|s|ms)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    const n = Number(m[1]);
    total += m[2] === 'h' ? n * 3600 : m[2] === 'm' ? n * 60 : m[2] === 's' ? n : n / 1000;
    pos = re.lastIndex;
  }
  return pos === s.length && s.length > 0 ? total : null;
}

function validZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * parseCron reads an expression, throwing a CronError that says what is wrong. A schedule
 * without CRON_TZ= runs in defaultZone (Herald's time zone; null or one the browser does
 * not know is UTC).
 */
export function parseCron(input: string, defaultZone: string | null = null): CronSchedule {
  let spec = input.trim();
  if (spec === '') {
    throw new CronError('empty', 'the expression is empty');
  }
  let zone: string | null = defaultZone && validZone(defaultZone) ? defaultZone : null;
  const tz = /^(?:CRON_TZ|TZ)=(\S+)\s+(.*)$/.exec(spec);
  if (tz) {
    zone = tz[1] ?? null;
    spec = (tz[2] ?? '').trim();
    if (!zone || !validZone(zone)) {
      throw new CronError('zone', `unknown time zone "${tz[1]}"`);
    }
  }
  if (spec.startsWith('@')) {
    if (spec.startsWith('@every ')) {
      const seconds = parseGoDuration(spec.slice('@every '.length).trim());
      if (seconds === null) {
        throw new CronError('descriptor', `"${spec}" needs a duration such as @every 1h30m`);
      }
      return { kind: 'every', zone, seconds: Math.max(1, Math.round(seconds)) };
    }
    const expanded = DESCRIPTORS[spec.toLowerCase()];
    if (!expanded) {
      throw new CronError('descriptor', `unknown descriptor "${spec}"`);
    }
    spec = expanded;
  }
  const fields = spec.split(/\s+/);
  if (fields.length !== 5) {
    throw new CronError('fields', `expected 5 fields (minute hour day month weekday), found ${fields.length}`);
  }
  const [minute = '', hour = '', dom = '', month = '', dow = ''] = fields;
  return {
    kind: 'fields',
    zone,
    minute: parseField(minute, MINUTE),
    hour: parseField(hour, HOUR),
    dom: parseField(dom, DOM),
    month: parseField(month, MONTH),
    dow: parseField(dow, DOW),
  };
}

// Wall-clock arithmetic: a wall time of the schedule's zone is held in a Date's UTC fields.

const offsetFormats = new Map<string, Intl.DateTimeFormat>();

/** zoneOffsetMs is how far the zone's wall clock is ahead of UTC at the instant. */
export function zoneOffsetMs(zone: string | null, instant: number): number {
  if (!zone || zone === 'UTC') {
    return 0;
  }
  let fmt = offsetFormats.get(zone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    offsetFormats.set(zone, fmt);
  }
  const parts: Record<string, number> = {};
  for (const p of fmt.formatToParts(new Date(instant))) {
    if (p.type !== 'literal') {
      parts[p.type] = Number(p.value);
    }
  }
  const wall = Date.UTC(parts['year'] ?? 1970, (parts['month'] ?? 1) - 1, parts['day'] ?? 1, parts['hour'] ?? 0, parts['minute'] ?? 0, parts['second'] ?? 0);
  return wall - (instant - (instant % 1000));
}

function wallToInstant(zone: string | null, wall: number): number {
  const guess = wall - zoneOffsetMs(zone, wall);
  return wall - zoneOffsetMs(zone, guess);
}

function matchesDay(s: Extract<CronSchedule, { kind: 'fields' }>, d: Date): boolean {
  const domMatch = s.dom.values.has(d.getUTCDate());
  const dowMatch = s.dow.values.has(d.getUTCDay());
  // As cron has it: when either day field is *, both must match; else either may.
  if (s.dom.star || s.dow.star) {
    return domMatch && dowMatch;
  }
  return domMatch || dowMatch;
}

const MINUTE_MS = 60_000;

/** nextRun is the first time strictly after `after` that the schedule fires, or null. */
export function nextRun(s: CronSchedule, after: Date): Date | null {
  if (s.kind === 'every') {
    // robfig: the delay after `after`, on a whole second.
    return new Date(Math.floor(after.getTime() / 1000) * 1000 + s.seconds * 1000);
  }
  const start = after.getTime();
  const w = new Date(Math.floor((start + zoneOffsetMs(s.zone, start)) / MINUTE_MS) * MINUTE_MS + MINUTE_MS);
  const limit = w.getTime() + 5 * 366 * 24 * 3600 * 1000;
  while (w.getTime() <= limit) {
    if (!s.month.values.has(w.getUTCMonth() + 1)) {
      w.setUTCMonth(w.getUTCMonth() + 1, 1);
      w.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!matchesDay(s, w)) {
      w.setUTCDate(w.getUTCDate() + 1);
      w.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!s.hour.values.has(w.getUTCHours())) {
      w.setUTCHours(w.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!s.minute.values.has(w.getUTCMinutes())) {
      w.setUTCMinutes(w.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    const instant = wallToInstant(s.zone, w.getTime());
    if (instant > start) {
      return new Date(instant);
    }
    w.setUTCMinutes(w.getUTCMinutes() + 1, 0, 0);
  }
  return null;
}

/** nextRuns lists up to n firing times after `after`. */
export function nextRuns(s: CronSchedule, after: Date, n: number): Date[] {
  const out: Date[] = [];
  let t = after;
  while (out.length < n) {
    const next = nextRun(s, t);
    if (!next) {
      break;
    }
    out.push(next);
    t = next;
  }
  return out;
}

export type CronCheck = { ok: true; schedule: CronSchedule; next: Date[] } | { ok: false; problem: CronProblem; message: string };

/** checkCron parses an expression and lists its next n runs after `from`, in zone when it names none. */
export function checkCron(input: string, from: Date, n = 5, zone: string | null = null): CronCheck {
  try {
    const schedule = parseCron(input, zone);
    const next = nextRuns(schedule, from, n);
    if (next.length === 0) {
      return { ok: false, problem: 'never', message: `"${input}" never fires` };
    }
    return { ok: true, schedule, next };
  } catch (e) {
    if (e instanceof CronError) {
      return { ok: false, problem: e.problem, message: e.message };
    }
    throw e;
  }
}
