import { buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';
import sdl from '../../../schema.graphql?raw';
import { schemaProblem } from './schema';

describe('schemaProblem', () => {
  it('tells a signed-out answer from an outage', () => {
    expect(schemaProblem(200)).toBeNull();
    expect(schemaProblem(401)).toBe('signedOut');
    expect(schemaProblem(503)).toBe('unavailable');
  });
});

describe('the schema GraphiQL is given', () => {
  it('builds from schema.graphql (what Herald serves, in SDL)', () => {
    const schema = buildSchema(sdl);
    expect(schema.getQueryType()?.getFields()).toHaveProperty('stats');
    expect(schema.getSubscriptionType()?.getFields()).toHaveProperty('taskProgress');
  });
});
