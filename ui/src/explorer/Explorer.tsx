// The API explorer: GraphiQL, bundled (nothing is loaded from elsewhere: private deployments
// are often offline) and loaded only when this page is opened. The schema comes from Herald
// for a signed-in user (production keeps introspection off); requests carry the session
// cookie, or an API key the user puts in the headers.
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { Alert, Button, Spin } from 'antd';
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import { buildSchema, type GraphQLSchema } from 'graphql';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { defaultWsUrl } from '../graphql/client';
import { schemaProblem, type SchemaProblem } from './schema';

const DEFAULT_QUERY = `# Herald's GraphQL API. Ctrl-Enter runs the query; the Docs panel lists every type.
query Me {
  me {
    email
    role
    apps {
      id
      name
    }
  }
}
`;

export default function Explorer() {
  const { t } = useTranslation();
  const [schema, setSchema] = useState<GraphQLSchema | null>(null);
  const [problem, setProblem] = useState<SchemaProblem | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let stale = false;
    setProblem(null);
    fetch('/console/schema.graphql', { credentials: 'same-origin', headers: { accept: 'text/plain' } })
      .then(async (res) => {
        const p = schemaProblem(res.status);
        if (p) {
          throw p;
        }
        return buildSchema(await res.text());
      })
      .then((s) => !stale && setSchema(s))
      .catch((e: unknown) => !stale && setProblem(typeof e === 'string' ? (e as SchemaProblem) : 'unavailable'));
    return () => {
      stale = true;
    };
  }, [attempt]);

  const fetcher = useMemo(
    () =>
      createGraphiQLFetcher({
        url: '/graphql',
        subscriptionUrl: defaultWsUrl() ?? undefined,
        headers: { accept: 'application/graphql-response+json, application/json' },
      }),
    [],
  );

  if (problem) {
    return (
      <Alert
        type="error"
        showIcon
        message={t(`explorer.problem.${problem}`)}
        action={<Button onClick={() => setAttempt((n) => n + 1)}>{t('error.retry')}</Button>}
      />
    );
  }
  if (!schema) {
    return <Spin />;
  }
  return (
    <div className="explorer" data-testid="graphiql">
      <GraphiQL fetcher={fetcher} schema={schema} defaultQuery={DEFAULT_QUERY} defaultEditorToolsVisibility shouldPersistHeaders={false} />
    </div>
  );
}
