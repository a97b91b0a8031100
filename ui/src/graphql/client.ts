// The urql client the console talks to Herald with: queries and mutations as same-origin
// JSON POSTs, subscriptions over graphql-ws on the same origin (the session cookie
// authenticates both), and a hook that tells the console when its session has expired.
import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange, type Exchange } from '@urql/core';
import { createClient as createWSClient, type Client as WSClient } from 'graphql-ws';
import { errorCode } from './errors';

export interface ClientOptions {
  /** The GraphQL endpoint; the console is served by Herald itself, so same-origin by default. */
  url?: string;
  /** A fetch implementation, for tests. */
  fetch?: typeof fetch;
  /**
   * The websocket endpoint of subscriptions (ws://host/graphql by default, from the page's
   * location); null turns subscriptions off (tests, or a page without `window`).
   */
  wsUrl?: string | null;
  /**
   * Called when an operation other than signing in is answered UNAUTHENTICATED: the session
   * has expired (or was signed out elsewhere) while the console was open.
   */
  onUnauthenticated?: () => void;
}

/** The operations whose UNAUTHENTICATED answer is not an expired session. */
const SIGN_IN_OPERATIONS: ReadonlySet<string> = new Set(['Login', 'Me', 'Logout']);

/** defaultWsUrl is ws(s)://<this host>/graphql, or null outside a browser. */
export function defaultWsUrl(location: Pick<Location, 'protocol' | 'host'> | undefined = globalThis.location): string | null {
  if (!location?.host) {
    return null;
  }
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
}

/** expiredSessionExchange calls back when a signed-in operation is answered UNAUTHENTICATED. */
export function expiredSessionExchange(onUnauthenticated: () => void): Exchange {
  return mapExchange({
    onResult(result) {
      const name = result.operation.query.definitions.find((d) => d.kind === 'OperationDefinition');
      const opName = name && 'name' in name ? name.name?.value : undefined;
      if (result.error && errorCode(result.error) === 'UNAUTHENTICATED' && !SIGN_IN_OPERATIONS.has(opName ?? '')) {
        onUnauthenticated();
      }
    },
  });
}

/**
 * createHeraldClient returns a client that sends every operation as a same-origin POST with
 * `Content-Type: application/json`, which Herald requires of cookie-authenticated mutations
 * (its CSRF defence), and carries the session cookie set by `login`.
 */
export function createHeraldClient(options: ClientOptions = {}): Client {
  const exchanges: Exchange[] = [];
  if (options.onUnauthenticated) {
    exchanges.push(expiredSessionExchange(options.onUnauthenticated));
  }
  exchanges.push(cacheExchange, fetchExchange);
  const wsUrl = options.wsUrl === undefined ? defaultWsUrl() : options.wsUrl;
  if (wsUrl) {
    let ws: WSClient | null = null;
    exchanges.push(
      subscriptionExchange({
        forwardSubscription(request) {
          // One websocket, opened on the first subscription and closed when none is left.
          ws ??= createWSClient({ url: wsUrl, lazy: true, retryAttempts: 5 });
          const socket = ws;
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = socket.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    );
  }
  return new Client({
    url: options.url ?? '/graphql',
    exchanges,
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
