import { describe, expect, it } from 'vitest';
import { CHANNELS, DELIVERY_STATUSES, LANES, TASK_KINDS, TASK_STATUSES } from '../graphql/types';
import { DEFAULT_LANGUAGE, dictionaries, isLanguage, LANGUAGES } from './messages';

// flatten lists every leaf of a dictionary as "a.b.c" → text.
function flatten(tree: object, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [key, value] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === 'object') {
      for (const [k, v] of flatten(value, path)) {
        out.set(k, v);
      }
    } else {
      out.set(path, value);
    }
  }
  return out;
}

function placeholders(text: string): string[] {
  return [...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1] ?? '').sort();
}

const reference = flatten(dictionaries[DEFAULT_LANGUAGE]);
const translations = LANGUAGES.filter((lang) => lang !== DEFAULT_LANGUAGE);

describe('i18n dictionaries', () => {
  it('default to zh-CN', () => {
    expect(DEFAULT_LANGUAGE).toBe('zh-CN');
    expect(LANGUAGES[0]).toBe('zh-CN');
  });

  it.each(translations)('%s has exactly the keys of zh-CN', (lang) => {
    const keys = [...flatten(dictionaries[lang]).keys()].sort();
    expect(keys).toEqual([...reference.keys()].sort());
  });

  it.each(LANGUAGES)('%s has a non-empty text for every key', (lang) => {
    for (const [key, text] of flatten(dictionaries[lang])) {
      expect(typeof text, key).toBe('string');
      expect((text as string).trim(), key).not.toBe('');
    }
  });

  it.each(translations)('%s uses the same {{placeholders}} as zh-CN', (lang) => {
    for (const [key, text] of flatten(dictionaries[lang])) {
      expect(placeholders(text as string), key).toEqual(placeholders(reference.get(key) as string));
    }
  });

  it.each(LANGUAGES)('%s names every channel and delivery status of the schema', (lang) => {
    const dict = dictionaries[lang];
    expect(Object.keys(dict.channel).sort()).toEqual([...CHANNELS].sort());
    expect(Object.keys(dict.status).sort()).toEqual([...DELIVERY_STATUSES].sort());
  });

  it.each(LANGUAGES)('%s names every task status, kind and lane of the schema', (lang) => {
    const dict = dictionaries[lang];
    expect(Object.keys(dict.taskStatus).sort()).toEqual([...TASK_STATUSES].sort());
    expect(Object.keys(dict.taskKind).sort()).toEqual([...TASK_KINDS].sort());
    expect(Object.keys(dict.lane).sort()).toEqual([...LANES].sort());
  });

  it('translates into English, not copies', () => {
    expect(dictionaries.en.signIn.submit).toBe('Sign in');
    expect(dictionaries['zh-CN'].signIn.submit).toBe('登录');
  });

  it('recognises only the languages it speaks', () => {
    expect(isLanguage('zh-CN')).toBe(true);
    expect(isLanguage('en')).toBe(true);
    expect(isLanguage('fr')).toBe(false);
    expect(isLanguage(null)).toBe(false);
    expect(isLanguage(undefined)).toBe(false);
  });
});
