// Reading Herald's error codes (API.md) out of urql's CombinedError.
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
