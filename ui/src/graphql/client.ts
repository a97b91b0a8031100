// The urql client the console talks to Herald with.
import { Client, cacheExchange, fetchExchange } from '@urql/core';

export interface ClientOptions {
  /** The GraphQL endpoint; the console is served by Herald itself, so same-origin by default. */
  url?: string;
  /** A fetch implementation, for tests. */
  fetch?: typeof fetch;
}

/**
 * createHeraldClient returns a client that sends every operation as a same-origin POST with
 * `Content-Type: application/json`, which Herald requires of cookie-authenticated mutations
 * (its CSRF defence), and carries the session cookie set by `login`.
 */
export function createHeraldClient(options: ClientOptions = {}): Client {
  return new Client({
    url: options.url ?? '/graphql',
    exchanges: [cacheExchange, fetchExchange],
    // GET is reserved for persisted queries; urql would otherwise send short queries as GET.
    preferGetMethod: false,
    fetchOptions: () => ({
      credentials: 'same-origin',
      headers: {
        // Plain JSON answers only: an Accept with text/event-stream would select the
        // server-sent-events transport.
        accept: 'application/graphql-response+json, application/json',
        'content-type': 'application/json',
      },
    }),
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
