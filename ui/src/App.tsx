// The console's root: who is signed in decides between the sign-in page and the console.
import { Button, ConfigProvider, App as AntApp, Result, Spin } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCNLocale from 'antd/locale/zh_CN';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Provider, useQuery } from 'urql';
import { createHeraldClient } from './graphql/client';
import { MeQuery } from './graphql/documents';
import { errorCode } from './graphql/errors';
import type { Viewer } from './graphql/types';
import { ConsoleLayout } from './layout/ConsoleLayout';
import { SignIn } from './pages/SignIn';

interface SessionProps {
  onSignedOut: () => void;
}

function Session({ onSignedOut }: SessionProps) {
  const { t } = useTranslation();
  const [{ data, fetching, error }, refetch] = useQuery({ query: MeQuery, requestPolicy: 'network-only' });
  const [viewer, setViewer] = useState<Viewer | null>(null);

  const current = viewer ?? data?.me ?? null;
  if (current) {
    return <ConsoleLayout viewer={current} onSignedOut={onSignedOut} />;
  }
  if (fetching) {
    return <Spin size="large" fullscreen />;
  }
  if (error && errorCode(error) !== 'UNAUTHENTICATED') {
    return (
      <Result
        status="warning"
        title={t(`error.${errorCode(error)}`)}
        extra={<Button onClick={() => refetch({ requestPolicy: 'network-only' })}>{t('error.retry')}</Button>}
      />
    );
  }
  return <SignIn onSignedIn={setViewer} />;
}

export function App() {
  const { t, i18n } = useTranslation();
  // A new client per session, so nothing cached for one viewer is shown to the next.
  const [session, setSession] = useState(() => ({ id: 0, client: createHeraldClient() }));
  const zh = i18n.language === 'zh-CN';

  useEffect(() => {
    dayjs.locale(zh ? 'zh-cn' : 'en');
    document.title = t('app.title');
  }, [zh, t]);

  return (
    <ConfigProvider locale={zh ? zhCNLocale : enUS} theme={{ token: { colorPrimary: '#1f6feb' } }}>
      <AntApp>
        <Provider value={session.client}>
          <Session
            key={session.id}
            onSignedOut={() => setSession((s) => ({ id: s.id + 1, client: createHeraldClient() }))}
          />
        </Provider>
      </AntApp>
    </ConfigProvider>
  );
}
