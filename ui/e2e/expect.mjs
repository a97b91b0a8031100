// A small expect for the browser tests (node:assert underneath).
import assert from 'node:assert/strict';

export function expect(actual) {
  return {
    toBe: (want) => assert.equal(actual, want),
    toEqual: (want) => assert.deepEqual(actual, want),
    toContain: (part) => assert.ok(String(actual).includes(part), `${JSON.stringify(actual)} does not contain ${JSON.stringify(part)}`),
  };
}
