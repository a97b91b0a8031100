// Template text in the editor: the SMS segment count (as Herald counts it), a draft preview
// with the placeholders filled in, and a line diff between two versions.

const GSM_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM_EXTENSION = new Set(['\f', '^', '{', '}', '\\', '[', '~', ']', '|', '€']);

/** SMS encoding and size of a text: GSM-7 septets or UCS-2 code units. */
export interface SmsSize {
  encoding: 'GSM-7' | 'UCS-2';
  units: number;
  segments: number;
  /** Units a single segment holds, and each segment of a long message. */
  single: number;
  multi: number;
}

/** smsSize counts a text's SMS segments as Herald's providers are billed for them. */
export function smsSize(text: string): SmsSize {
  let septets = 0;
  let gsm = true;
  for (const ch of text) {
    if (GSM_BASIC.has(ch)) {
      septets++;
    } else if (GSM_EXTENSION.has(ch)) {
      septets += 2;
    } else {
      gsm = false;
      break;
    }
  }
  const parts = (n: number, single: number, multi: number) => (n <= single ? 1 : Math.ceil(n / multi));
  if (gsm) {
    return { encoding: 'GSM-7', units: septets, segments: parts(septets, 160, 153), single: 160, multi: 153 };
  }
  const units = text.length; // UTF-16 code units
  return { encoding: 'UCS-2', units, segments: parts(units, 70, 67), single: 70, multi: 67 };
}

/**
 * fillPlaceholders writes sample values into {{ name }} placeholders for a draft preview: a
 * value given, else the name in corner brackets (「name」) so the reader sees what goes where.
 */
export function fillPlaceholders(text: string, values: Record<string, unknown> = {}): string {
  return text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_m, name: string) => {
    const v = values[name];
    return v === undefined || v === null || v === '' ? `「${name}」` : String(v);
  });
}

export interface DiffLine {
  kind: 'same' | 'added' | 'removed';
  text: string;
}

/**
 * diffLines is the line diff of two texts (longest common subsequence): lines only in `before`
 * are removed, lines only in `after` added.
 */
export function diffLines(before: string, after: string): DiffLine[] {
  const a = before === '' ? [] : before.split('\n');
  const b = after === '' ? [] : after.split('\n');
  const n = a.length;
  const m = b.length;
  // lcs[i][j]: the common subsequence length of a[i:] and b[j:].
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ kind: 'same', text: a[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) {
      out.push({ kind: 'removed', text: a[i]! });
      i++;
    } else {
      out.push({ kind: 'added', text: b[j]! });
      j++;
    }
  }
  for (; i < n; i++) {
    out.push({ kind: 'removed', text: a[i]! });
  }
  for (; j < m; j++) {
    out.push({ kind: 'added', text: b[j]! });
  }
  return out;
}

/** A template version as the history diff reads it. */
export interface VersionText {
  name: string;
  class: string;
  variables: readonly { name: string; type: string; required: boolean }[];
  variants: readonly { channel: string; title: string | null; body: string; extra: Record<string, unknown> | null }[];
}

/** versionText writes a template version as lines to diff: header, variables, each variant. */
export function versionText(v: VersionText): string {
  const lines = [`name: ${v.name}`, `class: ${v.class}`];
  for (const x of v.variables) {
    lines.push(`variable ${x.name}: ${x.type}${x.required ? ' (required)' : ''}`);
  }
  for (const variant of [...v.variants].sort((p, q) => p.channel.localeCompare(q.channel))) {
    lines.push(`[${variant.channel}]`);
    if (variant.title) {
      lines.push(`title: ${variant.title}`);
    }
    for (const l of variant.body.split('\n')) {
      lines.push(`body: ${l}`);
    }
    if (variant.extra && Object.keys(variant.extra).length > 0) {
      for (const l of JSON.stringify(variant.extra, Object.keys(variant.extra).sort(), 2).split('\n')) {
        lines.push(`extra: ${l}`);
      }
    }
  }
  return lines.join('\n');
}
