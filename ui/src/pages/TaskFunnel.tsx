// A task's delivery funnel per channel: sent → delivered → displayed → clicked, each step as a
// share of sent, from the task's statistics, and a funnel chart of the chosen channel.
import { Alert, Card, Empty, Progress, Segmented, Space, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useQuery } from 'urql';
import { Chart, type ChartOption } from '../components/Chart';
import { StatsQuery } from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import { CHANNELS, type Channel } from '../graphql/types';
import { formatCount, formatPercent } from '../lib/format';
import { byChannel, funnel, type FunnelStep } from '../lib/stats';

const DAY_MS = 24 * 3600 * 1000;

interface TaskFunnelProps {
  appId: string;
  taskId: string;
  createdAt: string;
  /** Changes when the task's counts move, to read the statistics again. */
  refreshKey: string;
}

export function TaskFunnel({ appId, taskId, createdAt, refreshKey }: TaskFunnelProps) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  // From the day before the task was created (statistics days are local) to tomorrow.
  const range = useMemo(() => {
    const from = new Date(new Date(createdAt).getTime() - DAY_MS);
    const to = new Date(Date.now() + DAY_MS);
    return { from: from.toISOString(), to: to.toISOString() };
    // refreshKey moves the end of the range along as the task goes on.
  }, [createdAt, refreshKey]);
  const [{ data, error, fetching }] = useQuery({
    query: StatsQuery,
    variables: { input: { appId, taskId, from: range.from, to: range.to, dimensions: ['CHANNEL'] } },
    requestPolicy: 'network-only',
  });
  const counts = useMemo(() => byChannel(data?.stats.rows ?? []), [data]);
  const channels = CHANNELS.filter((c) => counts.has(c));
  const [picked, setPicked] = useState<Channel | null>(null);
  const shown = picked && counts.has(picked) ? picked : (channels[0] ?? null);

  const rows = channels.map((channel) => ({ channel, steps: funnel(counts.get(channel) ?? {}) }));
  const step = (steps: FunnelStep[], metric: FunnelStep['metric']) => steps.find((s) => s.metric === metric);
  const columns: ColumnsType<{ channel: Channel; steps: FunnelStep[] }> = [
    { key: 'channel', title: t('funnel.channel'), render: (_, r) => t(`channel.${r.channel}`) },
    ...(['sent', 'delivered', 'displayed', 'clicked'] as const).map((metric) => ({
      key: metric,
      title: t(`dashboard.metric.${metric}`),
      render: (_: unknown, r: { steps: FunnelStep[] }) => {
        const s = step(r.steps, metric);
        return (
          <div className="funnel-cell">
            <span>{formatCount(s?.value ?? 0, locale)}</span>
            {metric !== 'sent' && (
              <Progress percent={Math.round((s?.ratio ?? 0) * 100)} size="small" format={() => formatPercent(s?.ratio ?? null, locale)} />
            )}
          </div>
        );
      },
    })),
  ];

  const option = useMemo<ChartOption | null>(() => {
    if (!shown) {
      return null;
    }
    const steps = funnel(counts.get(shown) ?? {});
    return {
      tooltip: { trigger: 'item' },
      series: [
        {
          type: 'funnel' as const,
          sort: 'none' as const,
          left: '10%',
          width: '80%',
          minSize: '8%',
          label: { position: 'inside', formatter: '{b}: {c}' },
          data: steps.map((s) => ({ name: t(`dashboard.metric.${s.metric}`), value: s.value })),
        },
      ],
    };
  }, [shown, counts, t]);

  return (
    <Card size="small" title={t('funnel.title')}>
      {error && <Alert type="error" showIcon message={t(`error.${errorCode(error)}`)} />}
      {channels.length === 0 && !fetching ? (
        <Empty description={t('funnel.empty')} />
      ) : (
        <Space direction="vertical" className="page">
          <Table rowKey="channel" size="small" pagination={false} columns={columns} dataSource={rows} loading={fetching && !data} />
          {shown && option && (
            <>
              <Space>
                <Typography.Text type="secondary">{t('funnel.chartOf')}</Typography.Text>
                <Segmented<Channel>
                  size="small"
                  value={shown}
                  onChange={setPicked}
                  options={channels.map((c) => ({ value: c, label: t(`channel.${c}`) }))}
                />
              </Space>
              <Chart label={t('funnel.chartLabel', { channel: t(`channel.${shown}`) })} option={option} height={220} />
            </>
          )}
        </Space>
      )}
    </Card>
  );
}
