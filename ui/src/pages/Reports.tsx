// Reports: the statistics explorer. Pick dimensions, filters and a date range; the rows come
// as a table and a chart (over time when DAY or HOUR is a dimension), and the table downloads
// as CSV.
import { DownloadOutlined, SearchOutlined } from '@ant-design/icons';
import type { CombinedError } from '@urql/core';
import { Alert, Button, Card, Col, DatePicker, Empty, Form, Input, InputNumber, Row, Segmented, Select, Space, Table, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import dayjs, { type Dayjs } from 'dayjs';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useClient, useQuery } from 'urql';
import { Chart, CHANNEL_COLORS, type ChartOption } from '../components/Chart';
import { StatsQuery, TemplatesQuery } from '../graphql/documents';
import { errorCode, fieldErrors } from '../graphql/errors';
import { CHANNELS, STATS_DIMENSIONS, type Channel, type StatsCounts, type StatsDimension, type StatsInput, type StatsRow } from '../graphql/types';
import { formatCount } from '../lib/format';
import { COUNT_FIELDS, count, DIMENSION_FIELD, isCost, rowLabel, toCSV, type CountField } from '../lib/stats';

interface ReportsForm {
  dimensions: StatsDimension[];
  range: [Dayjs, Dayjs];
  channel?: Channel;
  templateId?: string;
  taskId?: string;
  limit?: number | null;
}

interface Report {
  dimensions: StatsDimension[];
  /** Every day of the range (YYYY-MM-DD), so a chart over days has no gaps. */
  days: string[];
  rows: StatsRow[];
  totals: StatsCounts;
}

export function Reports({ appId }: { appId: string }) {
  const { t, i18n } = useTranslation();
  const locale = i18n.language;
  const client = useClient();
  const [form] = Form.useForm<ReportsForm>();
  const [templates] = useQuery({ query: TemplatesQuery, variables: { appId } });
  const [report, setReport] = useState<Report | null>(null);
  const [failure, setFailure] = useState<CombinedError | null>(null);
  const [loading, setLoading] = useState(false);
  const [metric, setMetric] = useState<CountField>('sent');
  const templateNames = useMemo(() => new Map((templates.data?.templates ?? []).map((x) => [x.id, x.name] as const)), [templates.data]);

  const label = (d: StatsDimension, v: string): string => {
    switch (d) {
      case 'CHANNEL':
        return t(`channel.${v as Channel}`);
      case 'STATUS':
        return t(`status.${v as 'SENT'}`);
      case 'TEMPLATE':
        return templateNames.get(v) ?? v;
      case 'HOUR':
        return `${v.padStart(2, '0')}:00`;
      default:
        return v;
    }
  };

  const run = async (values: ReportsForm) => {
    const [from, to] = values.range;
    const input: StatsInput = {
      appId,
      from: from.startOf('day').toISOString(),
      to: to.add(1, 'day').startOf('day').toISOString(),
      dimensions: values.dimensions ?? [],
    };
    if (values.channel) input.channel = values.channel;
    if (values.templateId) input.templateId = values.templateId;
    if (values.taskId?.trim()) input.taskId = values.taskId.trim();
    if (values.limit) input.limit = values.limit;
    setLoading(true);
    const r = await client.query(StatsQuery, { input }, { requestPolicy: 'network-only' }).toPromise();
    setLoading(false);
    if (r.error) {
      const placed = fieldErrors(r.error).map((e) => {
        const name = e.path[0] === 'to' || e.path[0] === 'from' ? 'range' : e.path[0];
        return { name: name as keyof ReportsForm, errors: [e.message] };
      });
      const onForm = placed.filter((p) => ['range', 'dimensions', 'channel', 'templateId', 'taskId', 'limit'].includes(p.name));
      if (onForm.length > 0) {
        form.setFields(onForm);
        setFailure(null);
      } else {
        setFailure(r.error);
      }
      setReport(null);
      return;
    }
    setFailure(null);
    if (r.data) {
      const days: string[] = [];
      for (let d = from.startOf('day'); !d.isAfter(to, 'day') && days.length < 400; d = d.add(1, 'day')) {
        days.push(d.format('YYYY-MM-DD'));
      }
      setReport({ dimensions: input.dimensions, days, rows: r.data.stats.rows, totals: r.data.stats.totals });
    }
  };

  const columns: ColumnsType<StatsRow> = report
    ? [
        ...report.dimensions.map((d) => ({
          key: d,
          title: t(`reports.dimension.${d}`),
          render: (_: unknown, row: StatsRow) => {
            const v = row[DIMENSION_FIELD[d]];
            return v === null || v === undefined ? '—' : label(d, String(v));
          },
        })),
        ...COUNT_FIELDS.map((f) => ({
          key: f,
          title: t(`reports.count.${f}`),
          align: 'right' as const,
          sorter: (a: StatsRow, b: StatsRow) => count(a, f) - count(b, f),
          render: (_: unknown, row: StatsRow) => (isCost(f) ? count(row, f).toFixed(2) : formatCount(count(row, f), locale)),
        })),
      ]
    : [];

  const download = () => {
    if (!report) {
      return;
    }
    const header = [...report.dimensions.map((d) => t(`reports.dimension.${d}`)), ...COUNT_FIELDS.map((f) => t(`reports.count.${f}`))];
    const rows = report.rows.map((row) => [
      ...report.dimensions.map((d) => {
        const v = row[DIMENSION_FIELD[d]];
        return v === null || v === undefined ? '' : label(d, String(v));
      }),
      ...COUNT_FIELDS.map((f) => (isCost(f) ? count(row, f).toFixed(4) : count(row, f))),
    ]);
    // A byte order mark lets spreadsheet programs read the UTF-8 (Chinese names) right.
    const blob = new Blob(['\uFEFF', toCSV(header, rows)], { type: 'text/csv;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `herald-stats-${dayjs().format('YYYYMMDD-HHmm')}.csv`;
    a.click();
    URL.revokeObjectURL(url);
  };

  const option = useMemo<ChartOption | null>(() => {
    if (!report || report.rows.length === 0) {
      return null;
    }
    const timeDim = report.dimensions.find((d) => d === 'DAY' || d === 'HOUR');
    if (timeDim) {
      const others = report.dimensions.filter((d) => d !== timeDim);
      // Every day of the range, or every hour of the day, plus any value outside them.
      const axis = timeDim === 'DAY' ? report.days : Array.from({ length: 24 }, (_, h) => String(h));
      const seen = report.rows.map((r) => String(r[DIMENSION_FIELD[timeDim]] ?? ''));
      const xs = [...new Set([...axis, ...seen])].sort((a, b) => (timeDim === 'HOUR' ? Number(a) - Number(b) : a.localeCompare(b)));
      const groups = new Map<string, number[]>();
      for (const row of report.rows) {
        const key = others.length ? rowLabel(row, others, label) : t(`reports.count.${metric}`);
        const series = groups.get(key) ?? xs.map(() => 0);
        const i = xs.indexOf(String(row[DIMENSION_FIELD[timeDim]] ?? ''));
        series[i] = (series[i] ?? 0) + count(row, metric);
        groups.set(key, series);
      }
      return {
        tooltip: { trigger: 'axis' },
        legend: { top: 0, type: 'scroll' },
        grid: { left: 56, right: 16, top: 36, bottom: 48 },
        dataZoom: [{ type: 'inside' }, { type: 'slider', height: 16, bottom: 8 }],
        xAxis: { type: 'category', data: xs.map((x) => label(timeDim, x)) },
        yAxis: { type: 'value' },
        series: [...groups.entries()].map(([name, data]) => ({ name, type: 'line' as const, smooth: true, showSymbol: xs.length <= 31, data })),
      };
    }
    const top = [...report.rows].sort((a, b) => count(b, metric) - count(a, metric)).slice(0, 30);
    return {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
      grid: { left: 140, right: 24, top: 16, bottom: 24 },
      xAxis: { type: 'value' },
      yAxis: { type: 'category', inverse: true, data: top.map((r) => rowLabel(r, report.dimensions, label)) },
      series: [
        {
          type: 'bar' as const,
          name: t(`reports.count.${metric}`),
          data: top.map((r) => ({ value: count(r, metric), itemStyle: r.channel ? { color: CHANNEL_COLORS[r.channel] } : undefined })),
        },
      ],
    };
  }, [report, metric, t, templateNames]);

  return (
    <Space direction="vertical" size="large" className="page">
      <div className="page-heading">
        <div>
          <Typography.Title level={3}>{t('reports.title')}</Typography.Title>
          <Typography.Text type="secondary">{t('reports.subtitle')}</Typography.Text>
        </div>
      </div>

      <Card size="small">
        <Form<ReportsForm>
          form={form}
          layout="vertical"
          initialValues={{ dimensions: ['DAY', 'CHANNEL'], range: [dayjs().subtract(6, 'day'), dayjs()] }}
          onFinish={(v) => void run(v)}
        >
          <Row gutter={12}>
            <Col xs={24} md={12} xl={8}>
              <Form.Item name="dimensions" label={t('reports.dimensions')} extra={t('reports.dimensionsHelp')}>
                <Select<StatsDimension[]> mode="multiple" options={STATS_DIMENSIONS.map((d) => ({ value: d, label: t(`reports.dimension.${d}`) }))} />
              </Form.Item>
            </Col>
            <Col xs={24} md={12} xl={8}>
              <Form.Item name="range" label={t('reports.range')} rules={[{ required: true, message: t('form.required') }]}>
                <DatePicker.RangePicker className="full-width" allowClear={false} />
              </Form.Item>
            </Col>
            <Col xs={12} md={6} xl={4}>
              <Form.Item name="channel" label={t('reports.channel')}>
                <Select allowClear placeholder={t('reports.any')} options={CHANNELS.map((c) => ({ value: c, label: t(`channel.${c}`) }))} />
              </Form.Item>
            </Col>
            <Col xs={12} md={6} xl={4}>
              <Form.Item name="templateId" label={t('reports.template')}>
                <Select allowClear placeholder={t('reports.any')} options={(templates.data?.templates ?? []).map((x) => ({ value: x.id, label: x.name }))} />
              </Form.Item>
            </Col>
            <Col xs={12} md={6} xl={4}>
              <Form.Item name="taskId" label={t('reports.task')}>
                <Input placeholder={t('reports.any')} />
              </Form.Item>
            </Col>
            <Col xs={12} md={6} xl={4}>
              <Form.Item name="limit" label={t('reports.limit')}>
                <InputNumber min={1} max={100000} precision={0} className="full-width" placeholder={t('reports.noLimit')} />
              </Form.Item>
            </Col>
          </Row>
          <Space>
            <Button type="primary" htmlType="submit" icon={<SearchOutlined />} loading={loading}>
              {t('reports.run')}
            </Button>
            <Button icon={<DownloadOutlined />} onClick={download} disabled={!report || report.rows.length === 0}>
              {t('reports.csv')}
            </Button>
          </Space>
        </Form>
      </Card>

      {failure && <Alert type="error" showIcon message={t(`error.${errorCode(failure)}`)} />}

      {report && (
        <>
          <Card
            size="small"
            title={t('reports.chart')}
            extra={
              <Segmented<CountField>
                size="small"
                value={metric}
                onChange={setMetric}
                options={COUNT_FIELDS.map((f) => ({ value: f, label: t(`reports.count.${f}`) }))}
              />
            }
          >
            {option ? <Chart label={t('reports.chart')} option={option} height={340} /> : <Empty description={t('reports.empty')} />}
          </Card>
          <Card size="small" title={t('reports.rows', { count: report.rows.length })}>
            <Table<StatsRow>
              rowKey={(row) => rowLabel(row, report.dimensions)}
              size="small"
              columns={columns}
              dataSource={report.rows}
              pagination={{ pageSize: 50, hideOnSinglePage: true, showSizeChanger: false }}
              scroll={{ x: true }}
              locale={{ emptyText: t('reports.empty') }}
              summary={() => (
                <Table.Summary.Row>
                  {report.dimensions.map((d, i) => (
                    <Table.Summary.Cell key={d} index={i}>
                      {i === 0 ? t('reports.total') : ''}
                    </Table.Summary.Cell>
                  ))}
                  {COUNT_FIELDS.map((f, i) => (
                    <Table.Summary.Cell key={f} index={report.dimensions.length + i} align="right">
                      {isCost(f) ? count(report.totals, f).toFixed(2) : formatCount(count(report.totals, f), locale)}
                    </Table.Summary.Cell>
                  ))}
                </Table.Summary.Row>
              )}
            />
          </Card>
        </>
      )}
    </Space>
  );
}
