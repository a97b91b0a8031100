// The console's forms → the API's inputs, with the checks the API makes, so a mistake shows
// on its field before anything is sent. Each problem names its field (a form path) and an
// i18n key under `form.` with its values.
import dayjs from 'dayjs';
import type { FieldPath } from '../graphql/errors';
import type {
  AudienceInput,
  AudienceKind,
  Channel,
  JSONObject,
  MessageClass,
  Milestone,
  RuleInput,
  Strategy,
  TaskInput,
  TaskKind,
  TemplateInput,
  Variable,
} from '../graphql/types';
import { checkCron, parseGoDuration, type CronProblem } from './cron';
import { buildVariables } from './variables';

export interface FormProblem {
  path: FieldPath;
  /** The i18n key, under `form.`. */
  key: string;
  values?: Record<string, string | number>;
}

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const chars = (s: string) => [...s].length;

/** A time the DatePicker gives (dayjs), a Date, or an RFC 3339 string. */
export type TimeValue = dayjs.Dayjs | Date | string | null | undefined;

function toDate(v: TimeValue): Date | null {
  if (!v) {
    return null;
  }
  const d = dayjs.isDayjs(v) ? v.toDate() : new Date(v as Date | string);
  return Number.isNaN(d.getTime()) ? null : d;
}

// ---------------------------------------------------------------------------------------------
// Tasks

export type TaskTiming = 'now' | 'at' | 'cron';

export interface TaskFormValues {
  name?: string;
  kind?: TaskKind;
  templateId?: string;
  ruleId?: string;
  audienceId?: string;
  /** User ids, one per line (or separated by commas). */
  userIds?: string;
  variables?: Record<string, unknown>;
  timing?: TaskTiming;
  startAt?: TimeValue;
  cron?: string;
  priority?: number | null;
}

/** The most users a SINGLE or LIST task takes (the realtime lane's limit). */
export const MAX_LIST_USERS = 1000;

/** splitIds reads ids one per line or separated by commas, dropping blanks. */
export function splitIds(text: string | undefined): string[] {
  return (text ?? '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** userIdProblem is why an id is not a user id Herald takes, or null. */
export function userIdProblem(id: string): string | null {
  if (id === '') {
    return 'userIdEmpty';
  }
  if (new TextEncoder().encode(id).length > 128) {
    return 'userIdLong';
  }
  return null;
}

/** Which audiences a task kind takes: TAG a TAG audience; GROUP a STATIC or SEGMENT one. */
export function audienceKindsFor(kind: TaskKind | undefined): AudienceKind[] {
  switch (kind) {
    case 'TAG':
      return ['TAG'];
    case 'GROUP':
      return ['STATIC', 'SEGMENT'];
    default:
      return [];
  }
}

export interface BuiltTask {
  input: TaskInput | null;
  problems: FormProblem[];
  /** The cron schedule's next runs, when the timing is cron and the expression is good. */
  nextRuns: Date[];
}

/**
 * buildTaskInput checks a task form as createTask does and builds its input: the variables
 * are those the template and rule declare, converted to their types.
 */
export function buildTaskInput(
  appId: string,
  v: TaskFormValues,
  declared: readonly Variable[],
  audienceKind: (id: string) => AudienceKind | undefined,
  now: Date,
): BuiltTask {
  const problems: FormProblem[] = [];
  let nextRuns: Date[] = [];
  const name = (v.name ?? '').trim();
  if (name === '' || chars(name) > 200) {
    problems.push({ path: ['name'], key: 'lengthBetween', values: { min: 1, max: 200 } });
  }
  if (!v.kind) {
    problems.push({ path: ['kind'], key: 'required' });
  }
  if (!v.templateId) {
    problems.push({ path: ['templateId'], key: 'required' });
  }
  if (!v.ruleId) {
    problems.push({ path: ['ruleId'], key: 'required' });
  }
  if (v.priority !== undefined && v.priority !== null && (!Number.isInteger(v.priority) || v.priority < 0 || v.priority > 9)) {
    problems.push({ path: ['priority'], key: 'between', values: { min: 0, max: 9 } });
  }

  let userIds: string[] | undefined;
  let audienceId: string | undefined;
  if (v.kind === 'SINGLE' || v.kind === 'LIST') {
    const ids = [...new Set(splitIds(v.userIds))];
    const limit = v.kind === 'SINGLE' ? 1 : MAX_LIST_USERS;
    if (ids.length === 0 || ids.length > limit) {
      problems.push({ path: ['userIds'], key: 'usersBetween', values: { min: 1, max: limit } });
    }
    const bad = ids.find((id) => userIdProblem(id) !== null);
    if (bad !== undefined) {
      problems.push({ path: ['userIds'], key: userIdProblem(bad) ?? 'userIdEmpty', values: { id: bad } });
    }
    userIds = ids;
  } else if (v.kind === 'TAG' || v.kind === 'GROUP') {
    if (!v.audienceId) {
      problems.push({ path: ['audienceId'], key: 'required' });
    } else {
      const kind = audienceKind(v.audienceId);
      if (kind && !audienceKindsFor(v.kind).includes(kind)) {
        problems.push({ path: ['audienceId'], key: v.kind === 'TAG' ? 'tagAudience' : 'groupAudience' });
      }
      audienceId = v.audienceId;
    }
  }

  const built = buildVariables(declared, v.variables ?? {});
  for (const e of built.errors) {
    problems.push({ path: ['variables', e.name], key: `variable.${e.problem}` });
  }

  let startAt: string | undefined;
  let cron: string | undefined;
  const timing = v.timing ?? 'now';
  if (timing === 'at') {
    const at = toDate(v.startAt);
    if (!at) {
      problems.push({ path: ['startAt'], key: 'required' });
    } else if (at.getTime() < now.getTime() - 60_000) {
      problems.push({ path: ['startAt'], key: 'inPast' });
    } else if (at.getTime() > now.getTime() + 400 * 24 * 3600_000) {
      problems.push({ path: ['startAt'], key: 'within400Days' });
    } else {
      startAt = at.toISOString();
    }
  } else if (timing === 'cron') {
    const expr = (v.cron ?? '').trim();
    const from = toDate(v.startAt);
    const checked = checkCron(expr, from && from > now ? from : now, 5);
    if (!checked.ok) {
      problems.push({ path: ['cron'], key: `cron.${checked.problem satisfies CronProblem}`, values: { detail: checked.message } });
    } else {
      cron = expr;
      nextRuns = checked.next;
      if (from && from > now) {
        startAt = from.toISOString();
      }
    }
  }

  if (problems.length > 0 || !v.kind || !v.templateId || !v.ruleId) {
    return { input: null, problems, nextRuns };
  }
  const input: TaskInput = { appId, name, kind: v.kind, templateId: v.templateId, ruleId: v.ruleId };
  if (userIds) {
    input.userIds = userIds;
  }
  if (audienceId) {
    input.audienceId = audienceId;
  }
  if (Object.keys(built.variables).length > 0) {
    input.variables = built.variables;
  }
  if (startAt) {
    input.startAt = startAt;
  }
  if (cron) {
    input.cron = cron;
  }
  if (v.priority !== undefined && v.priority !== null) {
    input.priority = v.priority;
  }
  return { input, problems, nextRuns };
}

/** mergeVariables lists the variables of a template and a rule once each (the template's first). */
export function mergeVariables(...lists: (readonly Variable[] | undefined)[]): Variable[] {
  const out: Variable[] = [];
  const seen = new Set<string>();
  for (const list of lists) {
    for (const v of list ?? []) {
      if (!seen.has(v.name)) {
        seen.add(v.name);
        out.push(v);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Declared variables (templates and rules)

export interface VariableRow {
  name?: string;
  type?: string;
  required?: boolean;
}

function checkVariables(rows: readonly VariableRow[], forbidUser: boolean, problems: FormProblem[]) {
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    const name = (row.name ?? '').trim();
    if (!VAR_NAME.test(name) || (forbidUser && name === 'user')) {
      problems.push({ path: ['variables', i, 'name'], key: forbidUser ? 'ruleVariableName' : 'variableName' });
    } else if (seen.has(name)) {
      problems.push({ path: ['variables', i, 'name'], key: 'declaredTwice', values: { name } });
    }
    seen.add(name);
    if (!['string', 'number', 'bool', 'time'].includes(row.type ?? '')) {
      problems.push({ path: ['variables', i, 'type'], key: 'variableType' });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Templates

export interface VariantRow {
  channel?: Channel;
  title?: string;
  body?: string;
  /** The variant's extra as JSON text. */
  extra?: string;
}

export interface TemplateFormValues {
  name?: string;
  class?: MessageClass;
  variables?: VariableRow[];
  variants?: VariantRow[];
}

/** The save-time length limits of a channel's title and body (characters; docs/templates.md). */
export const VARIANT_LIMITS: Partial<Record<Channel, { title?: number; body?: number; titleRequired?: boolean }>> = {
  APP_PUSH: { title: 100, body: 256 },
  SMS: { body: 500 },
  VOICE: { body: 300 },
  RCS: { body: 1000 },
  EMAIL: { title: 200, titleRequired: true },
};

/** The channels whose variant has a title field that is sent. */
export const TITLED_CHANNELS: ReadonlySet<Channel> = new Set<Channel>(['APP_PUSH', 'DINGTALK', 'EMAIL', 'WEBHOOK']);

/** placeholders lists the {{ name }} placeholders of a text, in order, with their problems. */
export function placeholders(text: string): { name: string; line: number; column: number; valid: boolean }[] {
  const out: { name: string; line: number; column: number; valid: boolean }[] = [];
  const re = /\{\{([^{}]*)\}\}/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const before = text.slice(0, m.index);
    const line = before.split('\n').length;
    const column = [...before.slice(before.lastIndexOf('\n') + 1)].length + 1;
    const name = (m[1] ?? '').trim();
    out.push({ name, line, column, valid: VAR_NAME.test(name) });
  }
  return out;
}

function checkText(text: string, declared: ReadonlySet<string>, path: FieldPath, problems: FormProblem[]) {
  const open = text.split('{{').length - 1;
  const close = text.split('}}').length - 1;
  if (open !== close) {
    problems.push({ path, key: 'unbalanced' });
    return;
  }
  for (const p of placeholders(text)) {
    if (!p.valid) {
      problems.push({ path, key: 'placeholderName', values: { line: p.line, column: p.column, name: p.name } });
      return;
    }
    if (!declared.has(p.name)) {
      problems.push({ path, key: 'undeclared', values: { line: p.line, column: p.column, name: p.name } });
      return;
    }
  }
}

/** buildTemplateInput checks a template form as createTemplate does and builds its input. */
export function buildTemplateInput(appId: string, v: TemplateFormValues): { input: TemplateInput | null; problems: FormProblem[] } {
  const problems: FormProblem[] = [];
  const name = (v.name ?? '').trim();
  if (name === '' || chars(name) > 100) {
    problems.push({ path: ['name'], key: 'lengthBetween', values: { min: 1, max: 100 } });
  }
  const variables = v.variables ?? [];
  checkVariables(variables, false, problems);
  const declared = new Set(variables.map((r) => (r.name ?? '').trim()));
  const variants = v.variants ?? [];
  if (variants.length === 0) {
    problems.push({ path: ['variants'], key: 'variantNeeded' });
  }
  const seen = new Set<Channel>();
  const outVariants: TemplateInput['variants'] = [];
  variants.forEach((row, i) => {
    if (!row.channel) {
      problems.push({ path: ['variants', i, 'channel'], key: 'required' });
      return;
    }
    if (seen.has(row.channel)) {
      problems.push({ path: ['variants', i, 'channel'], key: 'channelTwice' });
    }
    seen.add(row.channel);
    const body = row.body ?? '';
    const title = row.title ?? '';
    const limits = VARIANT_LIMITS[row.channel] ?? {};
    if (body.trim() === '') {
      problems.push({ path: ['variants', i, 'body'], key: 'required' });
    } else if (limits.body && chars(body) > limits.body) {
      problems.push({ path: ['variants', i, 'body'], key: 'atMost', values: { max: limits.body } });
    } else {
      checkText(body, declared, ['variants', i, 'body'], problems);
    }
    if (limits.titleRequired && title.trim() === '') {
      problems.push({ path: ['variants', i, 'title'], key: 'required' });
    } else if (limits.title && chars(title) > limits.title) {
      problems.push({ path: ['variants', i, 'title'], key: 'atMost', values: { max: limits.title } });
    } else {
      checkText(title, declared, ['variants', i, 'title'], problems);
    }
    let extra: JSONObject | undefined;
    const extraText = (row.extra ?? '').trim();
    if (extraText !== '') {
      try {
        const parsed: unknown = JSON.parse(extraText);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
          problems.push({ path: ['variants', i, 'extra'], key: 'jsonObject' });
        } else {
          extra = parsed as JSONObject;
        }
      } catch {
        problems.push({ path: ['variants', i, 'extra'], key: 'jsonObject' });
      }
    }
    outVariants.push({
      channel: row.channel,
      body,
      ...(title.trim() !== '' ? { title } : {}),
      ...(extra ? { extra } : {}),
    });
  });
  if (problems.length > 0) {
    return { input: null, problems };
  }
  return {
    input: {
      appId,
      name,
      class: v.class ?? 'TRANSACTIONAL',
      variables: variables.map((r) => ({ name: (r.name ?? '').trim(), type: r.type ?? 'string', required: !!r.required })),
      variants: outVariants,
    },
    problems,
  };
}

/** templateFormValues turns a saved template back into the editor's values. */
export function templateFormValues(t: {
  name: string;
  class: MessageClass;
  variables: readonly { name: string; type: string; required: boolean }[];
  variants: readonly { channel: Channel; title: string | null; body: string; extra: JSONObject | null }[];
}): TemplateFormValues {
  return {
    name: t.name,
    class: t.class,
    variables: t.variables.map((v) => ({ ...v })),
    variants: t.variants.map((v) => ({
      channel: v.channel,
      title: v.title ?? '',
      body: v.body,
      extra: v.extra && Object.keys(v.extra).length > 0 ? JSON.stringify(v.extra, null, 2) : '',
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Rules

export interface RouteRow {
  when?: string;
  strategy?: Strategy;
  channels?: Channel[];
  /** A Go duration such as 30s or 5m. */
  fallbackAfter?: string;
  until?: Milestone | null;
}

export interface RuleFormValues {
  name?: string;
  variables?: VariableRow[];
  routes?: RouteRow[];
}

/** buildRuleInput checks a rule form as createRule does and builds its input. */
export function buildRuleInput(appId: string, v: RuleFormValues): { input: RuleInput | null; problems: FormProblem[] } {
  const problems: FormProblem[] = [];
  const name = (v.name ?? '').trim();
  if (name === '' || chars(name) > 100) {
    problems.push({ path: ['name'], key: 'lengthBetween', values: { min: 1, max: 100 } });
  }
  const variables = v.variables ?? [];
  checkVariables(variables, true, problems);
  const routes = v.routes ?? [];
  if (routes.length === 0) {
    problems.push({ path: ['routes'], key: 'routeNeeded' });
  }
  const out: RuleInput['routes'] = [];
  routes.forEach((r, i) => {
    const when = (r.when ?? '').trim();
    if (i > 0 && (routes[i - 1]?.when ?? '').trim() === '') {
      problems.push({ path: ['routes', i, 'when'], key: 'unreachable', values: { route: i } });
    }
    if (r.strategy !== 'CONCURRENT' && r.strategy !== 'FALLBACK') {
      problems.push({ path: ['routes', i, 'strategy'], key: 'required' });
    }
    const chans = r.channels ?? [];
    if (chans.length === 0) {
      problems.push({ path: ['routes', i, 'channels'], key: 'channelNeeded' });
    } else if (new Set(chans).size !== chans.length) {
      problems.push({ path: ['routes', i, 'channels'], key: 'channelTwice' });
    }
    let fallbackAfter: string | undefined;
    const fa = (r.fallbackAfter ?? '').trim();
    if (fa !== '') {
      const secs = parseGoDuration(fa);
      if (secs === null || secs <= 0) {
        problems.push({ path: ['routes', i, 'fallbackAfter'], key: 'duration' });
      } else {
        fallbackAfter = fa;
      }
    } else if (r.strategy === 'FALLBACK') {
      problems.push({ path: ['routes', i, 'fallbackAfter'], key: 'fallbackNeeded' });
    }
    out.push({
      strategy: r.strategy ?? 'CONCURRENT',
      channels: chans,
      ...(when !== '' ? { when } : {}),
      ...(fallbackAfter && r.strategy === 'FALLBACK' ? { fallbackAfter } : {}),
      ...(r.until ? { until: r.until } : {}),
    });
  });
  if (problems.length > 0) {
    return { input: null, problems };
  }
  return {
    input: {
      appId,
      name,
      variables: variables.map((r) => ({ name: (r.name ?? '').trim(), type: r.type ?? 'string', required: !!r.required })),
      routes: out,
    },
    problems,
  };
}

/** durationText writes a Go duration as Herald returns it ("1m30s") more shortly: "90s" stays. */
export function durationText(d: string | null | undefined): string {
  if (!d) {
    return '';
  }
  return d.replace(/(\d)m0s$/, '$1m').replace(/(\d)h0m$/, '$1h');
}

/** ruleFormValues turns a saved rule back into the builder's values. */
export function ruleFormValues(r: {
  name: string;
  variables: readonly { name: string; type: string; required: boolean }[];
  routes: readonly {
    when: string | null;
    strategy: Strategy;
    channels: readonly Channel[];
    fallbackAfter: string | null;
    until: Milestone | null;
  }[];
}): RuleFormValues {
  return {
    name: r.name,
    variables: r.variables.map((v) => ({ ...v })),
    routes: r.routes.map((route) => ({
      when: route.when ?? '',
      strategy: route.strategy,
      channels: [...route.channels],
      fallbackAfter: durationText(route.fallbackAfter),
      until: route.until,
    })),
  };
}

// ---------------------------------------------------------------------------------------------
// Audiences

export interface AudienceFormValues {
  name?: string;
  kind?: AudienceKind;
  expression?: string;
  userIds?: string;
}

/**
 * tagExpressionProblem checks a TAG expression's shape as Herald's parser reads it — tags
 * joined by && and ||, negated by !, grouped by parentheses — and returns the i18n key of
 * the first problem with its position, or null.
 */
export function tagExpressionProblem(expr: string): { key: string; values: Record<string, string | number> } | null {
  const tokens: { t: string; pos: number }[] = [];
  const re = /\s*(&&|\|\||!|\(|\)|[^\s&|!()]+)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(expr)) !== null) {
    tokens.push({ t: m[1] ?? '', pos: m.index + (m[0].length - (m[1] ?? '').length) + 1 });
    end = re.lastIndex;
  }
  if (expr.slice(end).trim() !== '') {
    return { key: 'exprToken', values: { pos: end + 1 } };
  }
  if (tokens.length === 0) {
    return { key: 'required', values: {} };
  }
  let i = 0;
  const peek = () => tokens[i];
  const isTag = (t: string) => !['&&', '||', '!', '(', ')'].includes(t);
  // or := and ('||' and)* ; and := unary ('&&' unary)* ; unary := '!' unary | '(' or ')' | tag
  const unary = (): { key: string; values: Record<string, string | number> } | null => {
    const tok = peek();
    if (!tok) {
      return { key: 'exprEnd', values: {} };
    }
    if (tok.t === '!') {
      i++;
      return unary();
    }
    if (tok.t === '(') {
      i++;
      const inner = or();
      if (inner) {
        return inner;
      }
      if (peek()?.t !== ')') {
        return { key: 'exprParen', values: { pos: peek()?.pos ?? expr.length + 1 } };
      }
      i++;
      return null;
    }
    if (!isTag(tok.t)) {
      return { key: 'exprToken', values: { pos: tok.pos } };
    }
    if (!/^[A-Za-z0-9_\-.:\u0080-\uFFFF]{1,64}$/.test(tok.t)) {
      return { key: 'tagInvalid', values: { tag: tok.t } };
    }
    i++;
    return null;
  };
  const and = () => {
    let p = unary();
    while (!p && peek()?.t === '&&') {
      i++;
      p = unary();
    }
    return p;
  };
  const or = (): { key: string; values: Record<string, string | number> } | null => {
    let p = and();
    while (!p && peek()?.t === '||') {
      i++;
      p = and();
    }
    return p;
  };
  const p = or();
  if (p) {
    return p;
  }
  if (i < tokens.length) {
    return { key: 'exprToken', values: { pos: tokens[i]?.pos ?? 0 } };
  }
  return null;
}

/** buildAudienceInput checks an audience form as createAudience does. */
export function buildAudienceInput(
  appId: string,
  v: AudienceFormValues,
): { input: AudienceInput | null; problems: FormProblem[] } {
  const problems: FormProblem[] = [];
  const name = (v.name ?? '').trim();
  if (name === '' || chars(name) > 100) {
    problems.push({ path: ['name'], key: 'lengthBetween', values: { min: 1, max: 100 } });
  }
  const expression = (v.expression ?? '').trim();
  let userIds: string[] | undefined;
  switch (v.kind) {
    case 'TAG': {
      const p = tagExpressionProblem(expression);
      if (p) {
        problems.push({ path: ['expression'], key: p.key, values: p.values });
      }
      break;
    }
    case 'SEGMENT':
      if (expression === '') {
        problems.push({ path: ['expression'], key: 'required' });
      }
      break;
    case 'STATIC': {
      userIds = splitIds(v.userIds);
      if (userIds.length === 0) {
        problems.push({ path: ['userIds'], key: 'required' });
      } else if (new Set(userIds).size !== userIds.length) {
        problems.push({ path: ['userIds'], key: 'userTwice' });
      }
      break;
    }
    case 'ALL':
      break;
    default:
      problems.push({ path: ['kind'], key: 'required' });
  }
  if (problems.length > 0 || !v.kind) {
    return { input: null, problems };
  }
  return {
    input: {
      appId,
      name,
      kind: v.kind,
      ...(v.kind === 'TAG' ? { tagExpr: expression } : {}),
      ...(v.kind === 'SEGMENT' ? { segment: expression } : {}),
      ...(userIds ? { userIds } : {}),
    },
    problems,
  };
}
