// What a role may do in the console; the API enforces the same (FORBIDDEN otherwise).
import type { Role } from '../graphql/types';

/** canOperate tells whether a role may change things (send, pause, cancel): OPERATOR or ADMIN. */
export function canOperate(role: Role): boolean {
  return role === 'ADMIN' || role === 'OPERATOR';
}
