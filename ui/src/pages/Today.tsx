// "Today": the selected app's deliveries since local midnight, in totals and by channel and
// status.
import { ReloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Row, Space, Statistic, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useQuery } from 'urql';
import { TodayStatsQuery } from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import type { ChannelStatusRow } from '../graphql/types';
import { dayRange, deliveryRate, formatCount, formatPercent, toNumber } from '../lib/format';

interface TodayProps {
  appId: string;
}

export function Today({ appId }: TodayProps) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const [now, setNow] = useState(() => new Date());
  const range = useMemo(() => dayRange(now), [now]);

  const [{ data, fetching, error }] = useQuery({
    query: TodayStatsQuery,
    variables: { input: { appId, from: range.from, to: range.to, dimensions: ['CHANNEL', 'STATUS'] } },
    requestPolicy: 'cache-and-network',
  });

  const totals = data?.stats.totals;
  const rows = data?.stats.rows ?? [];
  const timeFormat = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' });

  const columns: ColumnsType<ChannelStatusRow> = [
    {
      key: 'channel',
      title: t('today.column.channel'),
      render: (_, row) => (row.channel ? t(`channel.${row.channel}`) : '—'),
    },
    {
      key: 'status',
      title: t('today.column.status'),
      render: (_, row) => (row.status ? t(`status.${row.status}`) : '—'),
    },
    ...(['sent', 'delivered', 'failed'] as const).map((field) => ({
      key: field,
      title: t(`today.column.${field}`),
      align: 'right' as const,
      sorter: (a: ChannelStatusRow, b: ChannelStatusRow) => (toNumber(a[field]) ?? 0) - (toNumber(b[field]) ?? 0),
      render: (_: unknown, row: ChannelStatusRow) => formatCount(row[field], locale),
    })),
  ];

  const stat = (title: string, value: string) => (
    <Col xs={12} md={8} xl={4}>
      <Card size="small">
        <Statistic title={title} value={value} loading={fetching && !data} />
      </Card>
    </Col>
  );

  return (
    <Space direction="vertical" size="large" className="page">
      <div className="page-heading">
        <div>
          <Typography.Title level={3}>{t('today.title')}</Typography.Title>
          <Typography.Text type="secondary">
            {t('today.range', {
              from: timeFormat.format(new Date(range.from)),
              to: timeFormat.format(new Date(range.to)),
            })}
          </Typography.Text>
        </div>
        <Button icon={<ReloadOutlined />} onClick={() => setNow(new Date())} loading={fetching && !!data}>
          {t('today.refresh')}
        </Button>
      </div>

      {error && <Alert type="error" showIcon message={t(`error.${errorCode(error)}`)} />}

      <Row gutter={[16, 16]}>
        {stat(t('today.sent'), formatCount(totals?.sent, locale))}
        {stat(t('today.delivered'), formatCount(totals?.delivered, locale))}
        {stat(t('today.failed'), formatCount(totals?.failed, locale))}
        {stat(t('today.suppressed'), formatCount(totals?.suppressed, locale))}
        {stat(t('today.deliveryRate'), formatPercent(deliveryRate(totals?.delivered, totals?.sent), locale))}
      </Row>

      <Card title={t('today.byChannel')} size="small">
        <Table<ChannelStatusRow>
          rowKey={(row) => `${row.channel ?? ''}/${row.status ?? ''}`}
          columns={columns}
          dataSource={rows}
          loading={fetching && !data}
          pagination={false}
          size="middle"
          locale={{ emptyText: t('today.empty') }}
        />
      </Card>
    </Space>
  );
}
