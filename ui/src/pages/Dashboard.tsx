// The dashboard: today's deliveries per channel, the last 30 days (every metric as a line,
// one metric per channel as stacked bars), the cost per channel, and the tasks running now
// with their live progress.
import { ReloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Empty, List, Progress, Row, Segmented, Space, Statistic, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useQuery } from 'urql';
import { Chart, CHANNEL_COLORS, METRIC_COLORS, type ChartOption } from '../components/Chart';
import { RunningTasksQuery, StatsQuery } from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import { CHANNELS, type Channel } from '../graphql/types';
import { dayRange, deliveryRate, formatCount, formatPercent } from '../lib/format';
import { progressPercent } from '../lib/progress';
import { byChannel, channelsOf, dailySeries, dailyTotals, lastDays, METRICS, type ChannelCounts, type Metric } from '../lib/stats';

const DAYS = 30;
const RUNNING_POLL_MS = 3000;

interface DashboardProps {
  appId: string;
  onOpenTask: (id: string) => void;
}

export function Dashboard({ appId, onOpenTask }: DashboardProps) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [now, setNow] = useState(() => new Date());
  const today = useMemo(() => dayRange(now), [now]);
  const month = useMemo(() => lastDays(now, DAYS), [now]);
  const [metric, setMetric] = useState<Metric>('sent');

  const [todayResult, refetchToday] = useQuery({
    query: StatsQuery,
    variables: { input: { appId, from: today.from, to: today.to, dimensions: ['CHANNEL'] } },
    requestPolicy: 'cache-and-network',
  });
  const [monthResult] = useQuery({
    query: StatsQuery,
    variables: { input: { appId, from: month.from, to: month.to, dimensions: ['DAY', 'CHANNEL'] } },
    requestPolicy: 'cache-and-network',
  });

  const todayRows = todayResult.data?.stats.rows ?? [];
  const totals = todayResult.data?.stats.totals;
  const monthRows = monthResult.data?.stats.rows ?? [];
  const error = todayResult.error ?? monthResult.error;

  const todayByChannel = useMemo(() => byChannel(todayRows), [todayRows]);
  const monthByChannel = useMemo(() => byChannel(monthRows), [monthRows]);
  const monthChannels = useMemo(() => channelsOf(monthRows, CHANNELS), [monthRows]);
  const shortDays = useMemo(() => month.days.map((d) => d.slice(5)), [month]);
  const money = useMemo(() => new Intl.NumberFormat(locale, { style: 'currency', currency: 'CNY', maximumFractionDigits: 2 }), [locale]);

  const lineOption = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: 'axis' },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 36, bottom: 28 },
      xAxis: { type: 'category', data: shortDays, boundaryGap: false },
      yAxis: { type: 'value', minInterval: 1 },
      series: METRICS.map((m) => ({
        name: t(`dashboard.metric.${m}`),
        type: 'line' as const,
        smooth: true,
        showSymbol: false,
        color: METRIC_COLORS[m],
        data: dailyTotals(monthRows, month.days, m),
      })),
    }),
    [monthRows, month, shortDays, t],
  );

  const barOption = useMemo<ChartOption>(() => {
    const series = dailySeries(monthRows, month.days, monthChannels, metric);
    return {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      legend: { top: 0 },
      grid: { left: 48, right: 16, top: 36, bottom: 28 },
      xAxis: { type: 'category', data: shortDays },
      yAxis: { type: 'value', minInterval: 1 },
      series: monthChannels.map((c) => ({
        name: t(`channel.${c}`),
        type: 'bar' as const,
        stack: 'channels',
        color: CHANNEL_COLORS[c],
        data: series.get(c) ?? [],
      })),
    };
  }, [monthRows, monthChannels, metric, month, shortDays, t]);

  const costOption = useMemo<ChartOption>(
    () => ({
      tooltip: { trigger: 'item', valueFormatter: (v) => money.format(Number(v)) },
      legend: { bottom: 0 },
      series: [
        {
          type: 'pie' as const,
          radius: ['40%', '68%'],
          center: ['50%', '45%'],
          label: { formatter: '{b}: {d}%' },
          data: monthChannels
            .map((c) => ({ name: t(`channel.${c}`), value: Number((monthByChannel.get(c)?.cost ?? 0).toFixed(4)), itemStyle: { color: CHANNEL_COLORS[c] } }))
            .filter((d) => d.value > 0),
        },
      ],
    }),
    [monthChannels, monthByChannel, t, money],
  );

  const todayTable = CHANNELS.filter((c) => todayByChannel.has(c)).map((c) => ({ channel: c, ...(todayByChannel.get(c) as ChannelCounts) }));
  const columns: ColumnsType<{ channel: Channel } & ChannelCounts> = [
    { key: 'channel', title: t('dashboard.column.channel'), render: (_, r) => t(`channel.${r.channel}`) },
    ...METRICS.map((m) => ({
      key: m,
      title: t(`dashboard.metric.${m}`),
      align: 'right' as const,
      render: (_: unknown, r: ChannelCounts) => formatCount(r[m], locale),
    })),
    {
      key: 'rate',
      title: t('dashboard.deliveryRate'),
      align: 'right' as const,
      render: (_, r) => formatPercent(deliveryRate(r.delivered, r.sent), locale),
    },
    { key: 'cost', title: t('dashboard.cost'), align: 'right' as const, render: (_, r) => money.format(r.cost) },
  ];

  const loadingToday = todayResult.fetching && !todayResult.data;
  const monthCost = [...monthByChannel.values()].reduce((sum, c) => sum + c.cost, 0);

  return (
    <Space direction="vertical" size="large" className="page">
      <div className="page-heading">
        <div>
          <Typography.Title level={3}>{t('dashboard.title')}</Typography.Title>
          <Typography.Text type="secondary">{t('dashboard.subtitle', { days: DAYS })}</Typography.Text>
        </div>
        <Button
          icon={<ReloadOutlined />}
          onClick={() => {
            setNow(new Date());
            refetchToday({ requestPolicy: 'network-only' });
          }}
          loading={(todayResult.fetching || monthResult.fetching) && !!todayResult.data}
        >
          {t('common.refresh')}
        </Button>
      </div>

      {error && <Alert type="error" showIcon message={t(`error.${errorCode(error)}`)} />}

      <Row gutter={[16, 16]}>
        {METRICS.map((m) => (
          <Col xs={12} md={8} xl={4} key={m}>
            <Card size="small">
              <Statistic
                title={t('dashboard.today', { metric: t(`dashboard.metric.${m}`) })}
                value={formatCount(totals?.[m], locale)}
                loading={loadingToday}
              />
            </Card>
          </Col>
        ))}
        <Col xs={12} md={8} xl={4}>
          <Card size="small">
            <Statistic
              title={t('dashboard.deliveryRate')}
              value={formatPercent(deliveryRate(totals?.delivered, totals?.sent), locale)}
              loading={loadingToday}
            />
          </Card>
        </Col>
      </Row>

      <Card size="small" title={t('dashboard.todayByChannel')}>
        <Table
          rowKey="channel"
          size="small"
          columns={columns}
          dataSource={todayTable}
          loading={loadingToday}
          pagination={false}
          locale={{ emptyText: t('dashboard.emptyToday') }}
        />
      </Card>

      <Row gutter={[16, 16]}>
        <Col xs={24} xl={12}>
          <Card size="small" title={t('dashboard.trend', { days: DAYS })}>
            {monthRows.length === 0 && !monthResult.fetching ? (
              <Empty description={t('dashboard.emptyMonth')} />
            ) : (
              <Chart label={t('dashboard.trend', { days: DAYS })} option={lineOption} />
            )}
          </Card>
        </Col>
        <Col xs={24} xl={12}>
          <Card
            size="small"
            title={t('dashboard.byChannel', { days: DAYS })}
            extra={
              <Segmented<Metric>
                size="small"
                value={metric}
                onChange={setMetric}
                options={METRICS.map((m) => ({ value: m, label: t(`dashboard.metric.${m}`) }))}
              />
            }
          >
            {monthRows.length === 0 && !monthResult.fetching ? (
              <Empty description={t('dashboard.emptyMonth')} />
            ) : (
              <Chart label={t('dashboard.byChannel', { days: DAYS })} option={barOption} />
            )}
          </Card>
        </Col>
      </Row>

      <Row gutter={[16, 16]}>
        <Col xs={24} xl={10}>
          <Card size="small" title={t('dashboard.costTitle', { days: DAYS })} extra={money.format(monthCost)}>
            {monthCost > 0 ? (
              <Chart label={t('dashboard.costTitle', { days: DAYS })} option={costOption} height={260} />
            ) : (
              <Empty description={t('dashboard.noCost')} />
            )}
          </Card>
        </Col>
        <Col xs={24} xl={14}>
          <RunningTasks appId={appId} onOpenTask={onOpenTask} />
        </Col>
      </Row>
    </Space>
  );
}

/** The app's running tasks, polled while any is running. */
function RunningTasks({ appId, onOpenTask }: { appId: string; onOpenTask: (id: string) => void }) {
  const { t, i18n } = useTranslation();
  const [{ data, fetching, error }, refetch] = useQuery({
    query: RunningTasksQuery,
    variables: { appId, first: 10 },
    requestPolicy: 'network-only',
  });
  const tasks = data?.tasks.edges.map((e) => e.node) ?? [];
  const any = tasks.length > 0;

  useEffect(() => {
    // Poll while something runs; otherwise look again now and then for new ones.
    const timer = window.setInterval(() => refetch({ requestPolicy: 'network-only' }), any ? RUNNING_POLL_MS : RUNNING_POLL_MS * 5);
    return () => window.clearInterval(timer);
  }, [any, refetch]);

  return (
    <Card size="small" title={t('dashboard.running')} className="running-tasks">
      {error && <Alert type="error" showIcon message={t(`error.${errorCode(error)}`)} />}
      <List
        loading={fetching && !data}
        dataSource={tasks}
        locale={{ emptyText: t('dashboard.noneRunning') }}
        renderItem={(task) => {
          const pct = progressPercent(task.progress.shardsDone, task.progress.shardsTotal, task.status);
          return (
            <List.Item>
              <div className="running-task">
                <Typography.Link onClick={() => onOpenTask(task.id)}>{task.name || task.id}</Typography.Link>
                <Progress percent={pct} size="small" status="active" aria-label={t('dashboard.progressOf', { name: task.name })} />
                <Typography.Text type="secondary">
                  {t('dashboard.runningCounts', {
                    sent: formatCount(task.progress.sent, i18n.language),
                    total: formatCount(task.progress.total, i18n.language),
                    delivered: formatCount(task.progress.delivered, i18n.language),
                  })}
                </Typography.Text>
              </div>
            </List.Item>
          );
        }}
      />
    </Card>
  );
}
