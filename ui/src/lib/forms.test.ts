import dayjs from 'dayjs';
import { describe, expect, it } from 'vitest';
import { dictionaries, LANGUAGES } from '../i18n/messages';
import type { AudienceKind, Variable } from '../graphql/types';
import {
  buildAudienceInput,
  buildRuleInput,
  buildTaskInput,
  buildTemplateInput,
  durationText,
  mergeVariables,
  placeholders,
  ruleFormValues,
  splitIds,
  tagExpressionProblem,
  templateFormValues,
  type FormProblem,
} from './forms';

const now = new Date('2026-03-10T10:00:00Z');
const declared: Variable[] = [{ name: 'code', type: 'string', required: true }];
const kinds: Record<string, AudienceKind> = { a1: 'TAG', a2: 'SEGMENT', a3: 'STATIC' };
const audienceKind = (id: string) => kinds[id];
const keys = (ps: FormProblem[]) => ps.map((p) => `${p.path.join('.')}:${p.key}`);

/** Every problem key must have a text in every language. */
function expectTranslated(ps: FormProblem[]) {
  for (const lang of LANGUAGES) {
    for (const p of ps) {
      const text = p.key.split('.').reduce<unknown>((node, k) => (node as Record<string, unknown> | undefined)?.[k], dictionaries[lang].form);
      expect(typeof text, `${lang} form.${p.key}`).toBe('string');
    }
  }
}

describe('buildTaskInput', () => {
  const base = { name: ' Spring sale ', kind: 'BROADCAST' as const, templateId: 't1', ruleId: 'r1', variables: { code: '42' } };

  it('builds a broadcast sent now', () => {
    const got = buildTaskInput('app1', base, declared, audienceKind, now);
    expect(got.problems).toEqual([]);
    expect(got.input).toEqual({ appId: 'app1', name: 'Spring sale', kind: 'BROADCAST', templateId: 't1', ruleId: 'r1', variables: { code: '42' } });
  });

  it('takes users for SINGLE and LIST, an audience of the right kind for TAG and GROUP', () => {
    const list = buildTaskInput('app1', { ...base, kind: 'LIST', userIds: 'u1\nu2, u1\n\n' }, declared, audienceKind, now);
    expect(list.input?.userIds).toEqual(['u1', 'u2']);
    const single = buildTaskInput('app1', { ...base, kind: 'SINGLE', userIds: 'u1\nu2' }, declared, audienceKind, now);
    expect(keys(single.problems)).toEqual(['userIds:usersBetween']);
    const tag = buildTaskInput('app1', { ...base, kind: 'TAG', audienceId: 'a2' }, declared, audienceKind, now);
    expect(keys(tag.problems)).toEqual(['audienceId:tagAudience']);
    const group = buildTaskInput('app1', { ...base, kind: 'GROUP', audienceId: 'a3' }, declared, audienceKind, now);
    expect(group.input?.audienceId).toBe('a3');
    expect(keys(buildTaskInput('app1', { ...base, kind: 'GROUP' }, declared, audienceKind, now).problems)).toEqual(['audienceId:required']);
  });

  it('reports every problem on its field, as the API would', () => {
    const got = buildTaskInput(
      'app1',
      { name: '', kind: 'LIST', userIds: '', variables: {}, priority: 12, timing: 'at', startAt: dayjs('2026-03-01T00:00:00Z') },
      declared,
      audienceKind,
      now,
    );
    expect(got.input).toBeNull();
    expect(keys(got.problems)).toEqual([
      'name:lengthBetween',
      'templateId:required',
      'ruleId:required',
      'priority:between',
      'userIds:usersBetween',
      'variables.code:variable.required',
      'startAt:inPast',
    ]);
    expectTranslated(got.problems);
  });

  it('sends a start time within 400 days', () => {
    const at = buildTaskInput('app1', { ...base, timing: 'at', startAt: dayjs('2026-03-11T08:00:00Z') }, declared, audienceKind, now);
    expect(at.input?.startAt).toBe('2026-03-11T08:00:00.000Z');
    const far = buildTaskInput('app1', { ...base, timing: 'at', startAt: '2027-06-01T00:00:00Z' }, declared, audienceKind, now);
    expect(keys(far.problems)).toEqual(['startAt:within400Days']);
  });

  it('checks a cron schedule and lists its next runs', () => {
    const ok = buildTaskInput('app1', { ...base, timing: 'cron', cron: '0 9 * * *' }, declared, audienceKind, now);
    expect(ok.input?.cron).toBe('0 9 * * *');
    expect(ok.nextRuns[0]?.toISOString()).toBe('2026-03-11T09:00:00.000Z');
    const bad = buildTaskInput('app1', { ...base, timing: 'cron', cron: '0 25 * * *' }, declared, audienceKind, now);
    expect(keys(bad.problems)).toEqual(['cron:cron.value']);
    expectTranslated(bad.problems);
  });
});

describe('buildTemplateInput', () => {
  it('builds a template with its variants', () => {
    const got = buildTemplateInput('app1', {
      name: 'otp',
      class: 'TRANSACTIONAL',
      variables: [{ name: 'code', type: 'string', required: true }],
      variants: [
        { channel: 'SMS', body: 'Code {{ code }}', extra: '{"sign": "Shop"}' },
        { channel: 'APP_PUSH', title: 'Code', body: '{{code}}', extra: '' },
      ],
    });
    expect(got.problems).toEqual([]);
    expect(got.input?.variants).toEqual([
      { channel: 'SMS', body: 'Code {{ code }}', extra: { sign: 'Shop' } },
      { channel: 'APP_PUSH', title: 'Code', body: '{{code}}' },
    ]);
    expect(got.input?.variables).toEqual([{ name: 'code', type: 'string', required: true }]);
  });

  it('finds what createTemplate refuses', () => {
    const got = buildTemplateInput('app1', {
      name: 'x',
      variables: [
        { name: '1bad', type: 'string' },
        { name: 'ok', type: 'money' },
        { name: 'ok', type: 'string' },
      ],
      variants: [
        { channel: 'SMS', body: 'Hi {{who}}' },
        { channel: 'SMS', body: 'x'.repeat(501) },
        { channel: 'EMAIL', title: '', body: '<p>{{ok}</p>' },
        { channel: 'WEBHOOK', body: 'b', extra: '[1]' },
      ],
    });
    expect(keys(got.problems)).toEqual([
      'variables.0.name:variableName',
      'variables.1.type:variableType',
      'variables.2.name:declaredTwice',
      'variants.0.body:undeclared',
      'variants.1.channel:channelTwice',
      'variants.1.body:atMost',
      'variants.2.body:unbalanced',
      'variants.2.title:required',
      'variants.3.extra:jsonObject',
    ]);
    expectTranslated(got.problems);
  });

  it('round-trips a saved template through the editor', () => {
    const saved = {
      name: 'otp',
      class: 'MARKETING' as const,
      variables: [{ name: 'code', type: 'string', required: false }],
      variants: [{ channel: 'SMS' as const, title: null, body: 'Code {{code}}', extra: { sign: 'Shop' } }],
    };
    const again = buildTemplateInput('app1', templateFormValues(saved));
    expect(again.input).toMatchObject({ name: 'otp', class: 'MARKETING', variants: [{ channel: 'SMS', body: 'Code {{code}}', extra: { sign: 'Shop' } }] });
  });
});

describe('placeholders', () => {
  it('finds each placeholder with its line and column', () => {
    expect(placeholders('a {{x}}\n  {{ bad name }}')).toEqual([
      { name: 'x', line: 1, column: 3, valid: true },
      { name: 'bad name', line: 2, column: 3, valid: false },
    ]);
  });
});

describe('buildRuleInput', () => {
  it('builds routes, a FALLBACK with its wait and milestone', () => {
    const got = buildRuleInput('app1', {
      name: 'default',
      variables: [{ name: 'amount', type: 'number', required: false }],
      routes: [
        { when: 'amount > 100', strategy: 'FALLBACK', channels: ['APP_PUSH', 'SMS'], fallbackAfter: '30s', until: 'DISPLAYED' },
        { when: '', strategy: 'CONCURRENT', channels: ['SMS'], fallbackAfter: '5m', until: null },
      ],
    });
    expect(got.problems).toEqual([]);
    expect(got.input?.routes).toEqual([
      { when: 'amount > 100', strategy: 'FALLBACK', channels: ['APP_PUSH', 'SMS'], fallbackAfter: '30s', until: 'DISPLAYED' },
      { strategy: 'CONCURRENT', channels: ['SMS'] },
    ]);
  });

  it('finds what createRule refuses', () => {
    const got = buildRuleInput('app1', {
      name: '',
      variables: [{ name: 'user', type: 'string' }],
      routes: [
        { when: '', strategy: 'FALLBACK', channels: [], fallbackAfter: '' },
        { when: 'x', strategy: 'CONCURRENT', channels: ['SMS', 'SMS'], fallbackAfter: 'soon' },
      ],
    });
    expect(keys(got.problems)).toEqual([
      'name:lengthBetween',
      'variables.0.name:ruleVariableName',
      'routes.0.channels:channelNeeded',
      'routes.0.fallbackAfter:fallbackNeeded',
      'routes.1.when:unreachable',
      'routes.1.channels:channelTwice',
      'routes.1.fallbackAfter:duration',
    ]);
    expectTranslated(got.problems);
  });

  it('reads a saved rule back, durations shortened', () => {
    expect(durationText('1m0s')).toBe('1m');
    expect(durationText('30s')).toBe('30s');
    expect(durationText('2h0m0s')).toBe('2h');
    const v = ruleFormValues({
      name: 'r',
      variables: [],
      routes: [{ when: null, strategy: 'FALLBACK', channels: ['SMS'], fallbackAfter: '5m0s', until: 'DELIVERED' }],
    });
    expect(v.routes?.[0]).toEqual({ when: '', strategy: 'FALLBACK', channels: ['SMS'], fallbackAfter: '5m', until: 'DELIVERED' });
  });
});

describe('audiences', () => {
  it('checks tag expressions as Herald reads them', () => {
    expect(tagExpressionProblem('vip && !churned')).toBeNull();
    expect(tagExpressionProblem('(a || b) && !(c || d:e)')).toBeNull();
    expect(tagExpressionProblem('vip &&')).toMatchObject({ key: 'exprEnd' });
    expect(tagExpressionProblem('(vip')).toMatchObject({ key: 'exprParen' });
    expect(tagExpressionProblem('vip churned')).toMatchObject({ key: 'exprToken', values: { pos: 5 } });
    expect(tagExpressionProblem('a & b')).toMatchObject({ key: 'exprToken' });
    expect(tagExpressionProblem('')).toMatchObject({ key: 'required' });
  });

  it('builds TAG, SEGMENT and STATIC audiences', () => {
    expect(buildAudienceInput('app1', { name: 'VIP', kind: 'TAG', expression: ' vip ' }).input).toEqual({ appId: 'app1', name: 'VIP', kind: 'TAG', tagExpr: 'vip' });
    expect(buildAudienceInput('app1', { name: 'Old', kind: 'SEGMENT', expression: 'age > 60' }).input).toMatchObject({ segment: 'age > 60' });
    expect(buildAudienceInput('app1', { name: 'L', kind: 'STATIC', userIds: 'u1\nu2' }).input).toMatchObject({ userIds: ['u1', 'u2'] });
    const bad = buildAudienceInput('app1', { name: '', kind: 'STATIC', userIds: 'u1,u1' });
    expect(keys(bad.problems)).toEqual(['name:lengthBetween', 'userIds:userTwice']);
    expectTranslated(bad.problems);
  });
});

describe('helpers', () => {
  it('splits ids and merges variables', () => {
    expect(splitIds(' a, b\n\nc ')).toEqual(['a', 'b', 'c']);
    expect(
      mergeVariables([{ name: 'a', type: 'string', required: true }], [{ name: 'a', type: 'number', required: false }, { name: 'b', type: 'bool', required: false }]).map(
        (v) => v.name,
      ),
    ).toEqual(['a', 'b']);
  });
});
