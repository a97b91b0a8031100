// Reading the answer of /console/schema.graphql.

export type SchemaProblem = 'signedOut' | 'unavailable';

/** schemaProblem tells what a non-OK status of the schema request means, or null when OK. */
export function schemaProblem(status: number): SchemaProblem | null {
  if (status >= 200 && status < 300) {
    return null;
  }
  return status === 401 || status === 403 ? 'signedOut' : 'unavailable';
}
