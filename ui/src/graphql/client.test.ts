import { CombinedError } from '@urql/core';
import { describe, expect, it } from 'vitest';
import { createHeraldClient, defaultWsUrl } from './client';
import { LoginMutation, MeQuery, TasksQuery } from './documents';
import { errorCode } from './errors';

interface Captured {
  url: string;
  init: RequestInit;
}

// fakeFetch records each request and answers with the given GraphQL response body.
function fakeFetch(body: unknown, status = 200) {
  const calls: Captured[] = [];
  const fetch = (async (url: RequestInfo | URL, init?: RequestInit) => {
    calls.push({ url: String(url), init: init ?? {} });
    return new Response(JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/graphql-response+json' },
    });
  }) as typeof globalThis.fetch;
  return { fetch, calls };
}

function header(init: RequestInit, name: string): string | undefined {
  return new Headers(init.headers).get(name) ?? undefined;
}

describe('createHeraldClient', () => {
  it('sends queries as a same-origin JSON POST to /graphql', async () => {
    const viewer = { email: 'admin@herald.local', role: 'ADMIN', apps: [{ id: 'a1', name: 'Shop' }] };
    const { fetch, calls } = fakeFetch({ data: { me: viewer } });
    const client = createHeraldClient({ fetch });

    const result = await client.query(MeQuery, {}).toPromise();

    expect(result.error).toBeUndefined();
    expect(result.data?.me).toEqual(viewer);
    expect(calls).toHaveLength(1);
    const call = calls[0]!;
    expect(call.url).toBe('/graphql');
    expect(call.init.method).toBe('POST');
    expect(call.init.credentials).toBe('same-origin');
    expect(header(call.init, 'content-type')).toBe('application/json');
    expect(header(call.init, 'accept')).not.toContain('text/event-stream');
    expect(JSON.parse(String(call.init.body))).toMatchObject({ operationName: 'Me' });
  });

  it('sends the login mutation with its variables', async () => {
    const { fetch, calls } = fakeFetch({ data: { login: { email: 'a@b.c', role: 'VIEWER', apps: [] } } });
    const client = createHeraldClient({ fetch });

    const result = await client.mutation(LoginMutation, { email: 'a@b.c', password: 'secret' }).toPromise();

    expect(result.data?.login.role).toBe('VIEWER');
    const body = JSON.parse(String(calls[0]!.init.body));
    expect(body.operationName).toBe('Login');
    expect(body.variables).toEqual({ email: 'a@b.c', password: 'secret' });
    expect(header(calls[0]!.init, 'content-type')).toBe('application/json');
  });

  it('surfaces the extensions.code of a GraphQL error', async () => {
    const { fetch } = fakeFetch({
      data: null,
      errors: [{ message: 'not signed in', extensions: { code: 'UNAUTHENTICATED' } }],
    });
    const client = createHeraldClient({ fetch });

    const result = await client.query(MeQuery, {}).toPromise();

    expect(result.error).toBeDefined();
    expect(errorCode(result.error!)).toBe('UNAUTHENTICATED');
  });
});

describe('errorCode', () => {
  it('takes the first known code', () => {
    const err = new CombinedError({
      graphQLErrors: [
        { message: 'odd', extensions: { code: 'SOMETHING_ELSE' } },
        { message: 'bad', extensions: { code: 'BAD_INPUT', field: 'input.appId' } },
      ],
    });
    expect(errorCode(err)).toBe('BAD_INPUT');
  });

  it('calls an error without a known code INTERNAL', () => {
    expect(errorCode(new CombinedError({ graphQLErrors: [{ message: 'boom' }] }))).toBe('INTERNAL');
  });

  it('calls a network failure UNAVAILABLE', () => {
    expect(errorCode(new CombinedError({ networkError: new Error('connection refused') }))).toBe('UNAVAILABLE');
  });
});

describe('expired sessions', () => {
  it('calls back when a signed-in operation is answered UNAUTHENTICATED, not for sign-in', async () => {
    let expired = 0;
    const { fetch } = fakeFetch({ data: null, errors: [{ message: 'signed out', extensions: { code: 'UNAUTHENTICATED' } }] });
    const client = createHeraldClient({ fetch, onUnauthenticated: () => expired++ });

    await client.query(MeQuery, {}).toPromise();
    expect(expired).toBe(0);
    await client.query(TasksQuery, { appId: '1' }).toPromise();
    expect(expired).toBe(1);
  });
});

describe('defaultWsUrl', () => {
  it('follows the page: ws for http, wss for https', () => {
    expect(defaultWsUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/graphql');
    expect(defaultWsUrl({ protocol: 'https:', host: 'herald.example' })).toBe('wss://herald.example/graphql');
    expect(defaultWsUrl(undefined)).toBeNull();
  });
});
