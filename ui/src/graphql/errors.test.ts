import { CombinedError } from '@urql/core';
import { describe, expect, it } from 'vitest';
import { apiFieldPath, fieldErrors, fieldsOf, showFieldErrors, type FieldPath } from './errors';

describe('apiFieldPath', () => {
  it('drops the argument name and splits indexes', () => {
    expect(apiFieldPath('input.name')).toEqual(['name']);
    expect(apiFieldPath('input.variants[0].body')).toEqual(['variants', 0, 'body']);
    expect(apiFieldPath('input.routes[2].channels[1]')).toEqual(['routes', 2, 'channels', 1]);
    expect(apiFieldPath('input.userIds[3]')).toEqual(['userIds', 3]);
  });

  it('keeps a top-level argument that is not the form', () => {
    expect(apiFieldPath('appId')).toEqual(['appId']);
    expect(apiFieldPath('ruleId', 'input')).toEqual(['ruleId']);
    expect(apiFieldPath('input')).toEqual(['input']);
  });
});

describe('fieldErrors and showFieldErrors', () => {
  const error = new CombinedError({
    graphQLErrors: [
      { message: 'must be 1 to 200 characters', extensions: { code: 'BAD_INPUT', field: 'input.name' } },
      { message: 'unknown channel', extensions: { code: 'BAD_INPUT', field: 'input.routes[1].channels[0]' } },
      { message: 'app 9 does not exist', extensions: { code: 'NOT_FOUND', field: 'input.appId' } },
      { message: 'no field here', extensions: { code: 'INTERNAL' } },
    ],
  });

  it('lists the errors that name a field, with the API message', () => {
    const errs = fieldErrors(error);
    expect(errs.map((e) => [e.field, e.code, e.message])).toEqual([
      ['input.name', 'BAD_INPUT', 'must be 1 to 200 characters'],
      ['input.routes[1].channels[0]', 'BAD_INPUT', 'unknown channel'],
      ['input.appId', 'NOT_FOUND', 'app 9 does not exist'],
    ]);
  });

  it('puts each on the nearest field the form has and returns the rest', () => {
    const set: { name: FieldPath; errors: string[] }[] = [];
    const rest = showFieldErrors(
      { setFields: (f) => set.push(...f) },
      fieldErrors(error),
      fieldsOf('name', 'routes.*.channels', 'routes.*.when'),
    );
    expect(set).toEqual([
      { name: ['name'], errors: ['must be 1 to 200 characters'] },
      { name: ['routes', 1, 'channels'], errors: ['unknown channel'] },
    ]);
    expect(rest.map((e) => e.field)).toEqual(['input.appId']);
  });

  it('matches * only against list indexes', () => {
    const known = fieldsOf('variants.*.body');
    expect(known(['variants', 0, 'body'])).toBe(true);
    expect(known(['variants', 'x', 'body'])).toBe(false);
    expect(known(['variants', 0])).toBe(false);
  });
});
