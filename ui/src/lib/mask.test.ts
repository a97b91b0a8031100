import { describe, expect, it } from 'vitest';
import { maskAddress, maskEmail, maskPhone } from './mask';

describe('maskPhone', () => {
  it.each([
    ['+8613812348000', '+86138****8000'],
    ['13812348000', '138****8000'],
    ['+1 415-555-0123', '+141****0123'],
    ['12345', '****2345'],
  ])('%s → %s', (input, want) => {
    expect(maskPhone(input)).toBe(want);
  });

  it('leaves what is not a phone number alone', () => {
    expect(maskPhone('oX9a-openid')).toBe('oX9a-openid');
    expect(maskPhone('1234')).toBe('1234');
  });
});

describe('maskEmail', () => {
  it('keeps the first letter and the domain', () => {
    expect(maskEmail('alice@example.com')).toBe('a***@example.com');
    expect(maskEmail('not-an-email')).toBe('not-an-email');
  });
});

describe('maskAddress', () => {
  it('masks phones on SMS, voice and RCS, and emails', () => {
    expect(maskAddress('SMS', '+8613812348000')).toBe('+86138****8000');
    expect(maskAddress('VOICE', '+8613812348000')).toBe('+86138****8000');
    expect(maskAddress('RCS', '+8613812348000')).toBe('+86138****8000');
    expect(maskAddress('EMAIL', 'bob@herald.local')).toBe('b***@herald.local');
  });

  it('passes other channel ids through', () => {
    expect(maskAddress('APP_PUSH', 'device-token-1')).toBe('device-token-1');
    expect(maskAddress('WECHAT', 'oUpF8uMuAJO_M2pxb1Q9zNjWeS6o')).toBe('oUpF8uMuAJO_M2pxb1Q9zNjWeS6o');
  });
});
