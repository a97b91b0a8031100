import { describe, expect, it } from 'vitest';
import { multipartFields, readAnswer } from './upload';

describe('multipartFields', () => {
  it('follows the GraphQL multipart request spec', () => {
    const file = new Blob(['id\nu1\n'], { type: 'text/csv' });
    const [operations, map, part] = multipartFields('7', file);
    expect(operations?.[0]).toBe('operations');
    const op = JSON.parse(operations?.[1] as string);
    expect(op.operationName).toBe('ImportUsers');
    expect(op.variables).toEqual({ appId: '7', file: null });
    expect(op.query).toContain('importUsers(appId: $appId, file: $file)');
    expect(map).toEqual(['map', '{"0":["variables.file"]}']);
    expect(part).toEqual(['0', file]);
  });
});

describe('readAnswer', () => {
  const report = { rows: 3, imported: 2, failed: 1, truncated: false, stopped: false, encoding: 'utf-8', errors: [{ row: 3, column: 'SMS', reason: 'not a phone number' }] };

  it('returns the report', () => {
    expect(readAnswer(200, JSON.stringify({ data: { importUsers: report } }))).toEqual({ ok: true, report });
  });

  it('reads the code and message of an error, never the raw body', () => {
    const body = JSON.stringify({ data: null, errors: [{ message: 'the header has no id column', extensions: { code: 'BAD_INPUT', field: 'file' } }] });
    expect(readAnswer(200, body)).toEqual({ ok: false, code: 'BAD_INPUT', message: 'the header has no id column' });
  });

  it('calls a refusal without GraphQL errors by its status', () => {
    expect(readAnswer(401, 'no')).toMatchObject({ ok: false, code: 'UNAUTHENTICATED', message: null });
    expect(readAnswer(502, '<html>')).toMatchObject({ ok: false, code: 'UNAVAILABLE' });
  });
});
