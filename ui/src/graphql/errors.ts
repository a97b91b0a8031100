// Reading Herald's errors (API.md) out of urql's CombinedError: the code, and the input
// field a BAD_INPUT (or CONFLICT, NOT_FOUND) names, so forms can show it on that field.
import type { CombinedError } from '@urql/core';
import type { ErrorCode } from './types';

const KNOWN_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'BAD_INPUT',
  'NOT_FOUND',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'CONFLICT',
  'RATE_LIMITED',
  'UNAVAILABLE',
  'INTERNAL',
]);

/**
 * errorCode returns the code of the first GraphQL error that carries a known one; a request
 * that never got a GraphQL answer is UNAVAILABLE (or UNAUTHENTICATED on HTTP 401), and
 * anything else INTERNAL.
 */
export function errorCode(error: CombinedError): ErrorCode {
  for (const e of error.graphQLErrors) {
    const code = e.extensions?.['code'];
    if (typeof code === 'string' && KNOWN_CODES.has(code)) {
      return code as ErrorCode;
    }
  }
  if (error.networkError || error.graphQLErrors.length === 0) {
    const status = (error.response as { status?: number } | undefined)?.status;
    return status === 401 ? 'UNAUTHENTICATED' : 'UNAVAILABLE';
  }
  return 'INTERNAL';
}

/** A form field path as antd's Form takes it: ['variants', 0, 'body']. */
export type FieldPath = (string | number)[];

/**
 * apiFieldPath turns the input path of an error's extensions.field into a form field path:
 * "input.variants[0].body" → ['variants', 0, 'body'] (the leading argument name — input,
 * or one given — is dropped, since a form holds one argument's fields).
 */
export function apiFieldPath(field: string, argument = 'input'): FieldPath {
  const parts: FieldPath = [];
  for (const piece of field.split('.')) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(piece);
    if (!m) {
      parts.push(piece);
      continue;
    }
    if (m[1]) {
      parts.push(m[1]);
    }
    for (const idx of (m[2] ?? '').matchAll(/\[(\d+)\]/g)) {
      parts.push(Number(idx[1]));
    }
  }
  if (parts[0] === argument && parts.length > 1) {
    parts.shift();
  }
  return parts;
}

/** One error that names an input field. */
export interface FieldError {
  /** The field as the API names it, such as "input.name". */
  field: string;
  path: FieldPath;
  /** The API's human-readable message (never the raw error object). */
  message: string;
  code: ErrorCode;
}

/** fieldErrors lists the errors of error that name a field. */
export function fieldErrors(error: CombinedError, argument = 'input'): FieldError[] {
  const out: FieldError[] = [];
  for (const e of error.graphQLErrors) {
    const field = e.extensions?.['field'];
    const code = e.extensions?.['code'];
    if (typeof field === 'string' && field !== '') {
      out.push({
        field,
        path: apiFieldPath(field, argument),
        message: e.message,
        code: typeof code === 'string' && KNOWN_CODES.has(code) ? (code as ErrorCode) : 'BAD_INPUT',
      });
    }
  }
  return out;
}

/** The part of antd's FormInstance that showing errors needs. */
export interface FieldErrorTarget {
  setFields(fields: { name: FieldPath; errors: string[] }[]): void;
  getFieldInstance?(name: FieldPath): unknown;
}

/**
 * showFieldErrors puts each error that names a field the form has (known tells which) on
 * that field, and returns the errors it could not place, which the page shows as a message.
 * A path the form lacks is shortened until it names one: "input.routes[1].channels[0]" lands
 * on routes.1.channels when the form has no field per channel.
 */
export function showFieldErrors(
  form: FieldErrorTarget,
  errors: FieldError[],
  known: (path: FieldPath) => boolean,
): FieldError[] {
  const unplaced: FieldError[] = [];
  const byPath = new Map<string, { name: FieldPath; errors: string[] }>();
  for (const err of errors) {
    let path = err.path;
    while (path.length > 0 && !known(path)) {
      path = path.slice(0, -1);
    }
    if (path.length === 0) {
      unplaced.push(err);
      continue;
    }
    const key = JSON.stringify(path);
    const entry = byPath.get(key) ?? { name: path, errors: [] };
    entry.errors.push(err.message);
    byPath.set(key, entry);
  }
  if (byPath.size > 0) {
    form.setFields([...byPath.values()]);
  }
  return unplaced;
}

/**
 * fieldsOf returns a `known` predicate for showFieldErrors from the form's field paths, written
 * as "name", "variants.*.body" (a * stands for any list index).
 */
export function fieldsOf(...patterns: string[]): (path: FieldPath) => boolean {
  const split = patterns.map((p) => p.split('.'));
  return (path) =>
    split.some(
      (parts) =>
        parts.length === path.length &&
        parts.every((part, i) => (part === '*' ? typeof path[i] === 'number' : part === String(path[i]))),
    );
}
