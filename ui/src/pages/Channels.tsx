// Channels: each provider's health (success rate and latency of its recent vendor calls, across
// every worker), its circuit breaker state, its place in the channel's route and its rate
// limit, read again every few seconds.
import { ReloadOutlined } from '@ant-design/icons';
import { Alert, Badge, Button, Card, Space, Switch, Table, Tag, Tooltip, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useQuery } from 'urql';
import { CHANNEL_COLORS } from '../components/Chart';
import { ChannelsQuery } from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import type { ChannelStatus } from '../graphql/types';
import { circuitState } from '../lib/channels';
import { formatPercent } from '../lib/format';

const POLL_MS = 5000;

export function Channels({ appId }: { appId: string }) {
  const { t, i18n } = useTranslation();
  const [auto, setAuto] = useState(true);
  const [{ data, fetching, error }, refetch] = useQuery({ query: ChannelsQuery, variables: { appId }, requestPolicy: 'network-only' });
  const [checkedAt, setCheckedAt] = useState(() => new Date());

  useEffect(() => {
    if (data) {
      setCheckedAt(new Date());
    }
  }, [data]);

  useEffect(() => {
    if (!auto) {
      return undefined;
    }
    const timer = window.setInterval(() => refetch({ requestPolicy: 'network-only' }), POLL_MS);
    return () => window.clearInterval(timer);
  }, [auto, refetch]);

  const rows = data?.channels ?? [];
  const time = new Intl.DateTimeFormat(i18n.language, { timeStyle: 'medium' });
  const rate = new Intl.NumberFormat(i18n.language, { maximumFractionDigits: 1 });
  const count = new Intl.NumberFormat(i18n.language);
  const ms = new Intl.NumberFormat(i18n.language, { maximumFractionDigits: 0 });
  const columns: ColumnsType<ChannelStatus> = [
    {
      key: 'channel',
      title: t('channels.column.channel'),
      render: (_, c) => <Tag color={CHANNEL_COLORS[c.channel]}>{t(`channel.${c.channel}`)}</Tag>,
    },
    { key: 'provider', title: t('channels.column.provider'), render: (_, c) => <Typography.Text code>{c.provider}</Typography.Text> },
    {
      key: 'route',
      title: t('channels.column.route'),
      render: (_, c) => t('channels.priorityWeight', { priority: c.priority, weight: c.weight }),
    },
    {
      key: 'health',
      title: t('channels.column.health'),
      render: (_, c) => <Badge status={c.healthy ? 'success' : 'error'} text={t(c.healthy ? 'channels.healthy' : 'channels.unhealthy')} />,
    },
    {
      key: 'success',
      title: t('channels.column.success'),
      align: 'right',
      render: (_, c) => (
        <Tooltip title={t('channels.window', { seconds: c.windowSeconds, calls: count.format(c.calls), failedCalls: count.format(c.failedCalls), messages: count.format(c.messages), failures: count.format(c.failures) })}>
          <span>{formatPercent(c.successRate ?? null, i18n.language)}</span>
        </Tooltip>
      ),
    },
    {
      key: 'latency',
      title: t('channels.column.latency'),
      align: 'right',
      render: (_, c) =>
        c.latencyP50Ms === null || c.latencyP95Ms === null
          ? '—'
          : t('channels.latency', { p50: ms.format(c.latencyP50Ms), p95: ms.format(c.latencyP95Ms) }),
    },
    {
      key: 'circuit',
      title: t('channels.column.circuit'),
      render: (_, c) => {
        const s = circuitState(c.circuit);
        return (
          <Tooltip
            title={
              c.circuitAt
                ? `${t(`channels.circuitHelp.${s}`)} · ${t('channels.reportedAt', { time: time.format(new Date(c.circuitAt)) })}`
                : t(`channels.circuitHelp.${s}`)
            }
          >
            <Tag color={s === 'CLOSED' ? 'green' : s === 'OPEN' ? 'red' : s === 'HALF_OPEN' ? 'orange' : 'default'}>{t(`channels.circuit.${s}`)}</Tag>
          </Tooltip>
        );
      },
    },
    {
      key: 'rate',
      title: t('channels.column.rate'),
      align: 'right',
      render: (_, c) => (c.ratePerSecond ? t('channels.perSecond', { rate: rate.format(c.ratePerSecond) }) : <Typography.Text type="secondary">{t('channels.noLimit')}</Typography.Text>),
    },
  ];
  const unhealthy = rows.filter((c) => !c.healthy).length;

  return (
    <Space direction="vertical" size="large" className="page">
      <div className="page-heading">
        <div>
          <Typography.Title level={3}>{t('channels.title')}</Typography.Title>
          <Typography.Text type="secondary">{t('channels.subtitle')}</Typography.Text>
        </div>
        <Space>
          <Typography.Text type="secondary">{t('channels.checkedAt', { time: time.format(checkedAt) })}</Typography.Text>
          <Switch checked={auto} onChange={setAuto} checkedChildren={t('channels.auto')} unCheckedChildren={t('channels.auto')} aria-label={t('channels.auto')} />
          <Button icon={<ReloadOutlined />} onClick={() => refetch({ requestPolicy: 'network-only' })} loading={fetching && !!data}>
            {t('common.refresh')}
          </Button>
        </Space>
      </div>
      {error && <Alert type="error" showIcon message={t(`error.${errorCode(error)}`)} />}
      {unhealthy > 0 && <Alert type="warning" showIcon message={t('channels.someUnhealthy', { count: unhealthy })} />}
      <Card size="small">
        <Table<ChannelStatus>
          rowKey={(c) => `${c.channel}/${c.provider}`}
          size="middle"
          columns={columns}
          dataSource={rows}
          loading={fetching && !data}
          pagination={false}
          locale={{ emptyText: t('channels.empty') }}
        />
      </Card>
    </Space>
  );
}
