// The console's root: who is signed in decides between the sign-in page and the console. When
// the session expires while the console is open, a sign-in dialog comes over the page, which
// stays as it was (forms keep what was typed), and the work goes on after signing in again.
import { Button, ConfigProvider, App as AntApp, Modal, Result, Spin } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCNLocale from 'antd/locale/zh_CN';
import dayjs from 'dayjs';
import 'dayjs/locale/zh-cn';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Provider, useQuery } from 'urql';
import { createHeraldClient } from './graphql/client';
import { MeQuery } from './graphql/documents';
import { errorCode } from './graphql/errors';
import type { Viewer } from './graphql/types';
import { ConsoleLayout } from './layout/ConsoleLayout';
import { SignIn } from './pages/SignIn';

interface SessionProps {
  expired: boolean;
  onRenewed: () => void;
  onSignedOut: () => void;
}

function Session({ expired, onRenewed, onSignedOut }: SessionProps) {
  const { t } = useTranslation();
  const [{ data, fetching, error }, refetch] = useQuery({ query: MeQuery, requestPolicy: 'network-only' });
  const [viewer, setViewer] = useState<Viewer | null>(null);

  const current = viewer ?? data?.me ?? null;
  if (current) {
    return (
      <>
        <ConsoleLayout viewer={current} onSignedOut={onSignedOut} />
        <Modal open={expired} title={t('session.expiredTitle')} footer={null} closable={false} maskClosable={false} destroyOnHidden>
          <p>{t('session.expired')}</p>
          <SignIn
            embedded={{ email: current.email }}
            onSignedIn={(next) => {
              if (next.email !== current.email || next.role !== current.role) {
                // Someone else signed in: nothing of the previous session may stay on screen.
                onSignedOut();
                return;
              }
              setViewer(next);
              onRenewed();
            }}
          />
        </Modal>
      </>
    );
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
  return (
    <SignIn
      onSignedIn={(next) => {
        setViewer(next);
        onRenewed();
      }}
    />
  );
}

export function App() {
  const { t, i18n } = useTranslation();
  const [expired, setExpired] = useState(false);
  const onExpired = useRef(() => setExpired(true));
  // A new client per session, so nothing cached for one viewer is shown to the next.
  const newClient = () => createHeraldClient({ onUnauthenticated: () => onExpired.current() });
  const [session, setSession] = useState(() => ({ id: 0, client: newClient() }));
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
            expired={expired}
            onRenewed={() => setExpired(false)}
            onSignedOut={() => {
              setExpired(false);
              setSession((s) => ({ id: s.id + 1, client: newClient() }));
            }}
          />
        </Provider>
      </AntApp>
    </ConfigProvider>
  );
}
