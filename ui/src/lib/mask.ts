// Masking of personal addresses in list views (the full address shows only in a user's detail).
import type { Channel } from '../graphql/types';

const PHONE_CHANNELS: ReadonlySet<Channel> = new Set<Channel>(['SMS', 'VOICE', 'RCS']);
const MASK = '****';

/**
 * maskPhone hides the middle of a phone number, keeping the last four digits and everything
 * before the eight last characters: +8613812348000 → +86138****8000, 13812348000 →
 * 138****8000. Something that is not a phone number comes back unchanged.
 */
export function maskPhone(phone: string): string {
  const compact = phone.replace(/[\s-]/g, '');
  if (!/^\+?\d{5,}$/.test(compact)) {
    return phone;
  }
  const keep = Math.max(0, compact.length - 8);
  return compact.slice(0, keep) + MASK + compact.slice(-4);
}

/** maskEmail keeps the first character of the local part and the domain: a***@example.com. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) {
    return email;
  }
  return `${email.slice(0, 1)}***${email.slice(at)}`;
}

/** maskAddress masks an address as its channel calls for: phones and emails; other ids pass. */
export function maskAddress(channel: Channel, address: string): string {
  if (PHONE_CHANNELS.has(channel)) {
    return maskPhone(address);
  }
  if (channel === 'EMAIL') {
    return maskEmail(address);
  }
  return address;
}
