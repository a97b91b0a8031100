// The signed-in frame: navigation, the app switcher, language, the viewer and sign-out.
import {
  ApiOutlined,
  BarChartOutlined,
  BranchesOutlined,
  CloudServerOutlined,
  DashboardOutlined,
  FileTextOutlined,
  LogoutOutlined,
  SendOutlined,
  TeamOutlined,
  UsergroupAddOutlined,
} from '@ant-design/icons';
import { Button, Empty, Layout, Menu, Select, Space, Spin, Tag, Typography } from 'antd';
import { lazy, Suspense, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useMutation } from 'urql';
import { LogoutMutation } from '../graphql/documents';
import type { Viewer } from '../graphql/types';
import { useRoute, type Page, type Route } from '../lib/router';
import { Audiences } from '../pages/Audiences';
import { Channels } from '../pages/Channels';
import { Dashboard } from '../pages/Dashboard';
import { Reports } from '../pages/Reports';
import { Rules } from '../pages/Rules';
import { Tasks } from '../pages/Tasks';
import { Templates } from '../pages/Templates';
import { Users } from '../pages/Users';
import { LanguageSwitch } from './LanguageSwitch';

const APP_KEY = 'herald.appId';

// GraphiQL is large: it is loaded only when the explorer is opened.
const Explorer = lazy(() => import('../explorer/Explorer'));

interface ConsoleLayoutProps {
  viewer: Viewer;
  onSignedOut: () => void;
}

/** pickApp keeps the remembered app when the viewer still has it, else takes the first. */
function pickApp(viewer: Viewer): string | null {
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(APP_KEY);
  } catch {
    // Storage may be disabled.
  }
  if (saved && viewer.apps.some((a) => a.id === saved)) {
    return saved;
  }
  return viewer.apps[0]?.id ?? null;
}

export function ConsoleLayout({ viewer, onSignedOut }: ConsoleLayoutProps) {
  const { t } = useTranslation();
  const [appId, setAppId] = useState<string | null>(() => pickApp(viewer));
  const [{ fetching: signingOut }, logout] = useMutation(LogoutMutation);
  const [route, navigate] = useRoute();

  useEffect(() => {
    if (appId) {
      try {
        localStorage.setItem(APP_KEY, appId);
      } catch {
        // Storage may be disabled.
      }
    }
  }, [appId]);

  const signOut = async () => {
    await logout({});
    onSignedOut();
  };

  return (
    <Layout className="console">
      <Layout.Header className="console-header">
        <Typography.Text className="console-brand" strong>
          {t('app.brand')}
        </Typography.Text>
        <Space size="middle" className="console-tools">
          <Select<string>
            className="app-switcher"
            aria-label={t('layout.selectApp')}
            placeholder={t('layout.selectApp')}
            value={appId ?? undefined}
            onChange={setAppId}
            options={viewer.apps.map((a) => ({ value: a.id, label: a.name }))}
            notFoundContent={t('layout.noApps')}
            popupMatchSelectWidth={false}
          />
          <LanguageSwitch />
          <Space size={4}>
            <Typography.Text className="console-user">{viewer.email}</Typography.Text>
            <Tag>{t(`layout.role.${viewer.role}`)}</Tag>
          </Space>
          <Button icon={<LogoutOutlined />} onClick={() => void signOut()} loading={signingOut}>
            {t('layout.signOut')}
          </Button>
        </Space>
      </Layout.Header>
      <Layout>
        <Layout.Sider width={200} theme="light" breakpoint="md" collapsedWidth={0}>
          <Menu
            mode="inline"
            selectedKeys={[route.page]}
            onClick={({ key }) => navigate({ page: key as Page, id: null })}
            items={[
              { key: 'dashboard', icon: <DashboardOutlined />, label: t('nav.dashboard') },
              { key: 'tasks', icon: <SendOutlined />, label: t('nav.tasks') },
              { key: 'users', icon: <TeamOutlined />, label: t('nav.users') },
              { key: 'audiences', icon: <UsergroupAddOutlined />, label: t('nav.audiences') },
              { key: 'templates', icon: <FileTextOutlined />, label: t('nav.templates') },
              { key: 'rules', icon: <BranchesOutlined />, label: t('nav.rules') },
              { key: 'reports', icon: <BarChartOutlined />, label: t('nav.reports') },
              { key: 'channels', icon: <CloudServerOutlined />, label: t('nav.channels') },
              { key: 'explorer', icon: <ApiOutlined />, label: t('nav.explorer') },
            ]}
          />
        </Layout.Sider>
        <Layout.Content className="console-content">
          {appId ? (
            <PageView key={appId} appId={appId} viewer={viewer} route={route} navigate={navigate} />
          ) : (
            <Empty description={t('layout.noApps')} />
          )}
        </Layout.Content>
      </Layout>
    </Layout>
  );
}

interface PageViewProps {
  appId: string;
  viewer: Viewer;
  route: Route;
  navigate: (route: Route) => void;
}

/** PageView shows the page the route names, for the selected app. */
function PageView({ appId, viewer, route, navigate }: PageViewProps) {
  const open = (page: Route['page']) => (id: string | null) => navigate({ page, id });
  switch (route.page) {
    case 'tasks':
      return <Tasks appId={appId} role={viewer.role} timeZone={viewer.timeZone} openTaskId={route.id} onOpenTask={open('tasks')} />;
    case 'users':
      return <Users appId={appId} role={viewer.role} userId={route.id} onOpenUser={open('users')} />;
    case 'audiences':
      return (
        <Audiences
          appId={appId}
          role={viewer.role}
          audienceId={route.id}
          onOpenAudience={open('audiences')}
          onOpenUser={(id) => navigate({ page: 'users', id })}
        />
      );
    case 'templates':
      return <Templates appId={appId} role={viewer.role} templateId={route.id} onOpenTemplate={open('templates')} />;
    case 'rules':
      return <Rules appId={appId} role={viewer.role} ruleId={route.id} onOpenRule={open('rules')} />;
    case 'reports':
      return <Reports appId={appId} />;
    case 'channels':
      return <Channels appId={appId} />;
    case 'explorer':
      return (
        <Suspense fallback={<Spin />}>
          <Explorer />
        </Suspense>
      );
    default:
      return <Dashboard appId={appId} onOpenTask={(id) => navigate({ page: 'tasks', id })} />;
  }
}
