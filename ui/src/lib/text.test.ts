import { describe, expect, it } from 'vitest';
import { diffLines, fillPlaceholders, smsSize, versionText } from './text';

describe('smsSize', () => {
  it('counts GSM-7 septets, extension characters twice', () => {
    expect(smsSize('Hello')).toMatchObject({ encoding: 'GSM-7', units: 5, segments: 1 });
    expect(smsSize('a'.repeat(160)).segments).toBe(1);
    expect(smsSize('a'.repeat(161)).segments).toBe(2);
    expect(smsSize('€'.repeat(80))).toMatchObject({ units: 160, segments: 1 });
    expect(smsSize('a'.repeat(306)).segments).toBe(2);
    expect(smsSize('a'.repeat(307)).segments).toBe(3);
  });

  it('counts UCS-2 code units once any character is outside GSM-7', () => {
    expect(smsSize('您好')).toMatchObject({ encoding: 'UCS-2', units: 2, segments: 1 });
    expect(smsSize('验'.repeat(70)).segments).toBe(1);
    expect(smsSize('验'.repeat(71)).segments).toBe(2);
    expect(smsSize('😀').units).toBe(2);
  });
});

describe('fillPlaceholders', () => {
  it('fills given values and marks missing ones', () => {
    expect(fillPlaceholders('Code {{code}}, {{ name }}!', { code: 123456 })).toBe('Code 123456, 「name」!');
    expect(fillPlaceholders('no placeholders')).toBe('no placeholders');
  });
});

describe('diffLines', () => {
  it('finds added and removed lines', () => {
    expect(diffLines('a\nb\nc', 'a\nc\nd')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'removed', text: 'b' },
      { kind: 'same', text: 'c' },
      { kind: 'added', text: 'd' },
    ]);
  });

  it('handles empty sides', () => {
    expect(diffLines('', 'x')).toEqual([{ kind: 'added', text: 'x' }]);
    expect(diffLines('x', '')).toEqual([{ kind: 'removed', text: 'x' }]);
    expect(diffLines('', '')).toEqual([]);
  });
});

describe('versionText', () => {
  it('writes a version as stable lines, variants by channel', () => {
    const text = versionText({
      name: 'otp',
      class: 'TRANSACTIONAL',
      variables: [{ name: 'code', type: 'string', required: true }],
      variants: [
        { channel: 'SMS', title: null, body: 'Code {{code}}', extra: { sign: 'Shop' } },
        { channel: 'APP_PUSH', title: 'Hi', body: 'Line 1\nLine 2', extra: null },
      ],
    });
    expect(text.split('\n')).toEqual([
      'name: otp',
      'class: TRANSACTIONAL',
      'variable code: string (required)',
      '[APP_PUSH]',
      'title: Hi',
      'body: Line 1',
      'body: Line 2',
      '[SMS]',
      'body: Code {{code}}',
      'extra: {',
      'extra:   "sign": "Shop"',
      'extra: }',
    ]);
  });
});
