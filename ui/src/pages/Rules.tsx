// Routing rules: the app's rules, a visual route builder (condition, CONCURRENT or FALLBACK,
// channel order, fallback timeout, milestone), the simulator's channel split and cost over
// an audience, and the plan of one user (planRoute). VIEWERs see rules without editing them.
import {
  ArrowDownOutlined,
  ArrowUpOutlined,
  DeleteOutlined,
  PlusOutlined,
  ReloadOutlined,
} from '@ant-design/icons';
import type { CombinedError } from '@urql/core';
import {
  Alert,
  App,
  Button,
  Card,
  Checkbox,
  Col,
  Descriptions,
  Empty,
  Form,
  Input,
  Radio,
  Row,
  Select,
  Space,
  Statistic,
  Table,
  Tabs,
  Tag,
  Timeline,
  Typography,
} from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useClient, useMutation, useQuery } from 'urql';
import { ChannelOrder } from '../components/ChannelOrder';
import { Chart, CHANNEL_COLORS, type ChartOption } from '../components/Chart';
import { useFormProblems } from '../components/useFormProblems';
import {
  AudiencesQuery,
  CreateRuleMutation,
  PlanRouteQuery,
  RulesQuery,
  SimulateRuleQuery,
  TemplatesQuery,
  UpdateRuleMutation,
} from '../graphql/documents';
import { errorCode, fieldsOf } from '../graphql/errors';
import {
  MILESTONES,
  STRATEGIES,
  VARIABLE_TYPES,
  type ErrorCode,
  type Role,
  type Route,
  type RoutePlan,
  type Rule,
  type RuleSimulation,
} from '../graphql/types';
import { formatCount } from '../lib/format';
import { buildRuleInput, durationText, ruleFormValues, type RouteRow, type RuleFormValues } from '../lib/forms';
import { canOperate } from '../lib/roles';
import { buildVariables } from '../lib/variables';
import { VariableField } from './Templates';

interface RulesProps {
  appId: string;
  role: Role;
  ruleId: string | null;
  onOpenRule: (id: string | null) => void;
}

const NEW = 'new';

export function Rules({ appId, role, ruleId, onOpenRule }: RulesProps) {
  const { t } = useTranslation();
  const [{ data, fetching, error }, refetch] = useQuery({ query: RulesQuery, variables: { appId }, requestPolicy: 'cache-and-network' });
  const rules = data?.rules ?? [];
  const selected = ruleId && ruleId !== NEW ? (rules.find((r) => r.id === ruleId) ?? null) : null;
  const creating = ruleId === NEW && canOperate(role);

  const columns: ColumnsType<Rule> = [
    { key: 'name', title: t('rules.column.name'), render: (_, r) => <Typography.Text strong>{r.name}</Typography.Text> },
    { key: 'version', title: t('rules.column.version'), render: (_, r) => `v${r.version}` },
    { key: 'routes', title: t('rules.column.routes'), render: (_, r) => <RouteSummary routes={r.routes} compact /> },
  ];

  return (
    <Space direction="vertical" size="large" className="page">
      <div className="page-heading">
        <div>
          <Typography.Title level={3}>{t('rules.title')}</Typography.Title>
          <Typography.Text type="secondary">{t('rules.subtitle')}</Typography.Text>
        </div>
        <Space>
          <Button icon={<ReloadOutlined />} onClick={() => refetch({ requestPolicy: 'network-only' })} loading={fetching && !!data}>
            {t('common.refresh')}
          </Button>
          {canOperate(role) && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => onOpenRule(NEW)}>
              {t('rules.new')}
            </Button>
          )}
        </Space>
      </div>

      {error && <Alert type="error" showIcon message={t(`error.${errorCode(error)}`)} />}

      <Row gutter={[16, 16]}>
        <Col xs={24} xl={10}>
          <Card size="small">
            <Table<Rule>
              rowKey="id"
              size="middle"
              columns={columns}
              dataSource={rules}
              loading={fetching && !data}
              pagination={{ pageSize: 10, hideOnSinglePage: true }}
              locale={{ emptyText: t('rules.empty') }}
              rowClassName={(r) => (r.id === ruleId ? 'row-selected' : '')}
              onRow={(r) => ({ onClick: () => onOpenRule(r.id), className: 'clickable-row' })}
            />
          </Card>
        </Col>
        <Col xs={24} xl={14}>
          {creating ? (
            <Card size="small" title={t('rules.new')}>
              <RuleBuilder
                key="new"
                appId={appId}
                onSaved={(r) => {
                  refetch({ requestPolicy: 'network-only' });
                  onOpenRule(r.id);
                }}
                onCancel={() => onOpenRule(null)}
              />
            </Card>
          ) : selected ? (
            <RuleDetail key={`${selected.id}-${selected.version}`} appId={appId} rule={selected} role={role} onSaved={() => refetch({ requestPolicy: 'network-only' })} />
          ) : (
            <Card size="small">
              <Empty description={t('rules.pick')} />
            </Card>
          )}
        </Col>
      </Row>
    </Space>
  );
}

/** RouteSummary draws a rule's routes: condition, then the channels joined by + or →. */
export function RouteSummary({ routes, compact }: { routes: readonly Route[] | readonly RouteRow[]; compact?: boolean }) {
  const { t } = useTranslation();
  return (
    <Space direction="vertical" size={compact ? 2 : 8} className="route-summary">
      {routes.map((r, i) => {
        const fallback = r.strategy === 'FALLBACK';
        return (
          <div key={i} className="route-line">
            <Typography.Text type="secondary" className={r.when ? 'route-when' : undefined}>
              {r.when ? t('rules.when', { when: r.when }) : t('rules.otherwise')}
            </Typography.Text>{' '}
            {(r.channels ?? []).map((c, k) => (
              <span key={c}>
                {k > 0 && <span className="channel-join">{fallback ? '→' : '+'}</span>}
                <Tag color={CHANNEL_COLORS[c]}>{t(`channel.${c}`)}</Tag>
              </span>
            ))}
            {!compact && fallback && r.fallbackAfter && (
              <Typography.Text type="secondary">
                {t('rules.fallbackEvery', { after: durationText(r.fallbackAfter), until: r.until ? t(`milestone.${r.until}`) : t('milestone.DELIVERED') })}
              </Typography.Text>
            )}
          </div>
        );
      })}
    </Space>
  );
}

function RuleDetail({ appId, rule, role, onSaved }: { appId: string; rule: Rule; role: Role; onSaved: () => void }) {
  const { t } = useTranslation();
  const items = [
    {
      key: 'routes',
      label: t('rules.tab.routes'),
      children: (
        <Space direction="vertical" className="page">
          <RouteSummary routes={rule.routes} />
          {rule.variables.length > 0 && (
            <Descriptions size="small" column={1} bordered>
              {rule.variables.map((v) => (
                <Descriptions.Item key={v.name} label={v.name}>
                  {v.type}
                  {v.required ? ` · ${t('rules.required')}` : ''}
                </Descriptions.Item>
              ))}
            </Descriptions>
          )}
        </Space>
      ),
    },
    ...(canOperate(role)
      ? [
          {
            key: 'edit',
            label: t('rules.tab.edit'),
            children: <RuleBuilder appId={appId} rule={rule} onSaved={onSaved} />,
          },
        ]
      : []),
    { key: 'simulate', label: t('rules.tab.simulate'), children: <Simulator appId={appId} rule={rule} /> },
    { key: 'plan', label: t('rules.tab.plan'), children: <Planner rule={rule} /> },
  ];
  return (
    <Card
      size="small"
      title={
        <Space>
          {rule.name}
          <Typography.Text type="secondary">v{rule.version}</Typography.Text>
        </Space>
      }
    >
      <Tabs items={items} />
    </Card>
  );
}

const ruleFields = fieldsOf(
  'name',
  'routes',
  'variables.*.name',
  'variables.*.type',
  'routes.*',
  'routes.*.when',
  'routes.*.strategy',
  'routes.*.channels',
  'routes.*.fallbackAfter',
  'routes.*.until',
);

const EMPTY_ROUTE: RouteRow = { when: '', strategy: 'CONCURRENT', channels: [], fallbackAfter: '', until: null };

/** The visual route builder; saves a new rule, or a new version of `rule`. */
function RuleBuilder({ appId, rule, onSaved, onCancel }: { appId: string; rule?: Rule; onSaved: (r: Rule) => void; onCancel?: () => void }) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<RuleFormValues>();
  const problems = useFormProblems(form, ruleFields);
  const [failure, setFailure] = useState<ErrorCode | null>(null);
  const [createState, create] = useMutation(CreateRuleMutation);
  const [updateState, update] = useMutation(UpdateRuleMutation);
  const busy = createState.fetching || updateState.fetching;
  const initial = useMemo<RuleFormValues>(() => (rule ? ruleFormValues(rule) : { name: '', variables: [], routes: [{ ...EMPTY_ROUTE }] }), [rule]);
  const routes = Form.useWatch('routes', form) ?? initial.routes ?? [];

  const submit = async (values: RuleFormValues) => {
    setFailure(null);
    const built = buildRuleInput(appId, values);
    if (problems.show(built.problems) || !built.input) {
      return;
    }
    const result = rule ? await update({ id: rule.id, input: built.input }) : await create({ input: built.input });
    if (result.error) {
      setFailure(problems.showApiError(result.error));
      return;
    }
    const saved = result.data && ('updateRule' in result.data ? result.data.updateRule : result.data.createRule);
    if (saved) {
      void message.success(t('rules.saved', { name: saved.name, version: saved.version }));
      onSaved(saved);
    }
  };

  return (
    <Form<RuleFormValues> form={form} layout="vertical" initialValues={initial} onFinish={(v) => void submit(v)} disabled={busy}>
      {failure && <Alert type="error" showIcon message={t(`error.${failure}`)} className="form-alert" role="alert" />}
      <Form.Item name="name" label={t('rules.name')} rules={[{ required: true, whitespace: true, message: t('form.required') }]}>
        <Input maxLength={100} disabled={!!rule || busy} />
      </Form.Item>

      <Typography.Text strong>{t('rules.variables')}</Typography.Text>
      <Typography.Paragraph type="secondary">{t('rules.variablesHelp')}</Typography.Paragraph>
      <VariableRows />

      <Typography.Text strong>{t('rules.routes')}</Typography.Text>
      <Typography.Paragraph type="secondary">{t('rules.routesHelp')}</Typography.Paragraph>
      <Form.List name="routes">
        {(fields, { add, remove, move }) => (
          <Space direction="vertical" className="page">
            {fields.map((field, index) => {
              const strategy = routes[index]?.strategy;
              return (
                <Card
                  key={field.key}
                  size="small"
                  className="route-card"
                  title={t('rules.routeN', { n: index + 1 })}
                  extra={
                    <Space size={0}>
                      <Button type="text" size="small" icon={<ArrowUpOutlined />} disabled={index === 0} onClick={() => move(index, index - 1)} aria-label={t('rules.routeUp')} />
                      <Button
                        type="text"
                        size="small"
                        icon={<ArrowDownOutlined />}
                        disabled={index === fields.length - 1}
                        onClick={() => move(index, index + 1)}
                        aria-label={t('rules.routeDown')}
                      />
                      <Button type="text" size="small" danger icon={<DeleteOutlined />} disabled={fields.length === 1} onClick={() => remove(index)} aria-label={t('rules.routeRemove')} />
                    </Space>
                  }
                >
                  <Form.Item name={[field.name, 'when']} label={t('rules.condition')} extra={t('rules.conditionHelp')}>
                    <Input className="mono" placeholder='user.vip == true && amount > 100' />
                  </Form.Item>
                  <Form.Item name={[field.name, 'strategy']} label={t('rules.strategy')}>
                    <Radio.Group optionType="button" options={STRATEGIES.map((s) => ({ value: s, label: t(`strategy.${s}`) }))} />
                  </Form.Item>
                  <Form.Item name={[field.name, 'channels']} label={t(strategy === 'FALLBACK' ? 'rules.channelsFallback' : 'rules.channelsConcurrent')}>
                    <ChannelOrder chain={strategy === 'FALLBACK'} />
                  </Form.Item>
                  {strategy === 'FALLBACK' && (
                    <Row gutter={12}>
                      <Col span={12}>
                        <Form.Item name={[field.name, 'fallbackAfter']} label={t('rules.fallbackAfter')} extra={t('rules.fallbackAfterHelp')}>
                          <Input placeholder="30s" className="mono" />
                        </Form.Item>
                      </Col>
                      <Col span={12}>
                        <Form.Item name={[field.name, 'until']} label={t('rules.until')} extra={t('rules.untilHelp')}>
                          <Select allowClear placeholder={t('milestone.DELIVERED')} options={MILESTONES.map((m) => ({ value: m, label: t(`milestone.${m}`) }))} />
                        </Form.Item>
                      </Col>
                    </Row>
                  )}
                </Card>
              );
            })}
            <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ ...EMPTY_ROUTE })} block>
              {t('rules.addRoute')}
            </Button>
          </Space>
        )}
      </Form.List>

      <Card size="small" className="route-preview" title={t('rules.preview')}>
        <RouteSummary routes={routes.filter(Boolean)} />
      </Card>

      <Space className="form-actions">
        <Button type="primary" htmlType="submit" loading={busy}>
          {rule ? t('rules.saveVersion') : t('rules.create')}
        </Button>
        {onCancel && <Button onClick={onCancel}>{t('common.cancel')}</Button>}
      </Space>
    </Form>
  );
}

/** The declared-variable rows of a template or rule form (name, type, required). */
export function VariableRows() {
  const { t } = useTranslation();
  return (
    <Form.List name="variables">
      {(fields, { add, remove }) => (
        <Space direction="vertical" className="page variable-rows">
          {fields.map((field) => (
            <Space key={field.key} align="start" wrap>
              <Form.Item name={[field.name, 'name']} rules={[{ required: true, message: t('form.required') }]}>
                <Input placeholder={t('rules.variableName')} className="mono" aria-label={t('rules.variableName')} />
              </Form.Item>
              <Form.Item name={[field.name, 'type']} initialValue="string">
                <Select className="variable-type" aria-label={t('rules.variableType')} options={VARIABLE_TYPES.map((v) => ({ value: v, label: t(`templates.variableType.${v}`) }))} />
              </Form.Item>
              <Form.Item name={[field.name, 'required']} valuePropName="checked">
                <Checkbox>{t('rules.required')}</Checkbox>
              </Form.Item>
              <Button type="text" danger icon={<DeleteOutlined />} onClick={() => remove(field.name)} aria-label={t('rules.removeVariable')} />
            </Space>
          ))}
          <Button type="dashed" size="small" icon={<PlusOutlined />} onClick={() => add({ name: '', type: 'string', required: false })}>
            {t('rules.addVariable')}
          </Button>
        </Space>
      )}
    </Form.List>
  );
}

function useVariablesForm(rule: Rule) {
  const [form] = Form.useForm<{ variables?: Record<string, unknown> } & Record<string, unknown>>();
  const build = (values: { variables?: Record<string, unknown> }) => {
    const built = buildVariables(rule.variables, values.variables ?? {});
    return built;
  };
  return { form, build };
}

/** The simulator: the channel split and estimated cost of the rule over an audience. */
function Simulator({ appId, rule }: { appId: string; rule: Rule }) {
  const { t, i18n } = useTranslation();
  const client = useClient();
  const locale = i18n.language;
  const { form, build } = useVariablesForm(rule);
  const [audiences] = useQuery({ query: AudiencesQuery, variables: { appId } });
  const [templates] = useQuery({ query: TemplatesQuery, variables: { appId } });
  const [result, setResult] = useState<RuleSimulation | null>(null);
  const [failure, setFailure] = useState<CombinedError | null>(null);
  const [loading, setLoading] = useState(false);
  const money = new Intl.NumberFormat(locale, { style: 'currency', currency: 'CNY', maximumFractionDigits: 2 });

  const run = async (values: { audienceId?: string; templateId?: string; variables?: Record<string, unknown> }) => {
    const built = build(values);
    if (built.errors.length > 0) {
      form.setFields(built.errors.map((e) => ({ name: ['variables', e.name], errors: [t(`form.variable.${e.problem}`)] })));
      return;
    }
    if (!values.audienceId) {
      form.setFields([{ name: 'audienceId', errors: [t('form.required')] }]);
      return;
    }
    setLoading(true);
    const r = await client
      .query(
        SimulateRuleQuery,
        { ruleId: rule.id, audienceId: values.audienceId, templateId: values.templateId ?? null, variables: built.variables },
        { requestPolicy: 'network-only' },
      )
      .toPromise();
    setLoading(false);
    setFailure(r.error ?? null);
    setResult(r.data?.simulateRule ?? null);
  };

  const option = useMemo<ChartOption | null>(
    () =>
      result
        ? {
            tooltip: { trigger: 'item' },
            legend: { bottom: 0 },
            series: [
              {
                type: 'pie' as const,
                radius: ['35%', '65%'],
                center: ['50%', '45%'],
                data: [
                  ...result.channels.map((c) => ({ name: t(`channel.${c.channel}`), value: Number(c.users), itemStyle: { color: CHANNEL_COLORS[c.channel] } })),
                  { name: t('rules.sim.unreachable'), value: Number(result.unreachable), itemStyle: { color: '#d0d7de' } },
                  { name: t('rules.sim.noRoute'), value: Number(result.noRoute), itemStyle: { color: '#8c959f' } },
                ].filter((d) => d.value > 0),
              },
            ],
          }
        : null,
    [result, t],
  );

  return (
    <Space direction="vertical" className="page">
      <Form form={form} layout="vertical" onFinish={(v) => void run(v)}>
        <Row gutter={12}>
          <Col span={12}>
            <Form.Item name="audienceId" label={t('rules.sim.audience')}>
              <Select
                showSearch
                optionFilterProp="label"
                loading={audiences.fetching}
                options={(audiences.data?.audiences ?? []).map((a) => ({ value: a.id, label: `${a.name} (${formatCount(a.size, locale)})` }))}
                notFoundContent={t('taskForm.noAudience')}
              />
            </Form.Item>
          </Col>
          <Col span={12}>
            <Form.Item name="templateId" label={t('rules.sim.template')} extra={t('rules.sim.templateHelp')}>
              <Select allowClear options={(templates.data?.templates ?? []).map((x) => ({ value: x.id, label: x.name }))} />
            </Form.Item>
          </Col>
        </Row>
        {rule.variables.length > 0 && (
          <div className="variable-grid">
            {rule.variables.map((v) => (
              <VariableField key={v.name} variable={v} prefix="variables" />
            ))}
          </div>
        )}
        <Button type="primary" htmlType="submit" loading={loading}>
          {t('rules.sim.run')}
        </Button>
      </Form>
      {failure && <Alert type="error" showIcon message={t(`error.${errorCode(failure)}`)} description={failure.graphQLErrors[0]?.message} />}
      {result && (
        <>
          <Row gutter={12}>
            <Col span={6}>
              <Statistic title={t('rules.sim.users')} value={formatCount(result.users, locale)} />
            </Col>
            <Col span={6}>
              <Statistic title={t('rules.sim.unreachable')} value={formatCount(result.unreachable, locale)} />
            </Col>
            <Col span={6}>
              <Statistic title={t('rules.sim.noRoute')} value={formatCount(result.noRoute, locale)} />
            </Col>
            <Col span={6}>
              <Statistic title={t('rules.sim.cost')} value={money.format(result.cost)} />
            </Col>
          </Row>
          <Table
            rowKey="channel"
            size="small"
            pagination={false}
            dataSource={result.channels}
            columns={[
              { key: 'channel', title: t('funnel.channel'), render: (_, c) => t(`channel.${c.channel}`) },
              { key: 'users', title: t('rules.sim.reach'), align: 'right', render: (_, c) => formatCount(c.users, locale) },
              { key: 'suppressed', title: t('rules.sim.suppressed'), align: 'right', render: (_, c) => formatCount(c.suppressed, locale) },
              { key: 'filtered', title: t('rules.sim.filtered'), align: 'right', render: (_, c) => formatCount(c.filtered, locale) },
              { key: 'cost', title: t('rules.sim.cost'), align: 'right', render: (_, c) => money.format(c.cost) },
            ]}
          />
          {option && <Chart label={t('rules.sim.split')} option={option} height={240} />}
        </>
      )}
    </Space>
  );
}

/** One user's plan: the route the rule picks for them and the messages it would send. */
function Planner({ rule }: { rule: Rule }) {
  const { t } = useTranslation();
  const client = useClient();
  const { form, build } = useVariablesForm(rule);
  const [plan, setPlan] = useState<RoutePlan | null>(null);
  const [failure, setFailure] = useState<CombinedError | null>(null);
  const [loading, setLoading] = useState(false);

  const run = async (values: { userId?: string; variables?: Record<string, unknown> }) => {
    const userId = (values.userId ?? '').trim();
    if (userId === '') {
      form.setFields([{ name: 'userId', errors: [t('form.required')] }]);
      return;
    }
    const built = build(values);
    if (built.errors.length > 0) {
      form.setFields(built.errors.map((e) => ({ name: ['variables', e.name], errors: [t(`form.variable.${e.problem}`)] })));
      return;
    }
    setLoading(true);
    const r = await client.query(PlanRouteQuery, { ruleId: rule.id, userId, variables: built.variables }, { requestPolicy: 'network-only' }).toPromise();
    setLoading(false);
    if (r.error) {
      const field = r.error.graphQLErrors[0]?.extensions?.['field'];
      if (field === 'userId') {
        form.setFields([{ name: 'userId', errors: [r.error.graphQLErrors[0]?.message ?? t('error.BAD_INPUT')] }]);
        setFailure(null);
      } else {
        setFailure(r.error);
      }
      setPlan(null);
      return;
    }
    setFailure(null);
    setPlan(r.data?.planRoute ?? null);
  };

  return (
    <Space direction="vertical" className="page">
      <Form form={form} layout="vertical" onFinish={(v) => void run(v)}>
        <Form.Item name="userId" label={t('rules.plan.user')}>
          <Input placeholder="user-1001" />
        </Form.Item>
        {rule.variables.length > 0 && (
          <div className="variable-grid">
            {rule.variables.map((v) => (
              <VariableField key={v.name} variable={v} prefix="variables" />
            ))}
          </div>
        )}
        <Button type="primary" htmlType="submit" loading={loading}>
          {t('rules.plan.run')}
        </Button>
      </Form>
      {failure && <Alert type="error" showIcon message={t(`error.${errorCode(failure)}`)} />}
      {plan && (
        <Card size="small" className="route-plan">
          {plan.route === null ? (
            <Alert type="warning" showIcon message={t('rules.plan.noRoute')} description={plan.reason ?? undefined} />
          ) : (
            <Space direction="vertical" className="page">
              <Typography.Text>
                {t('rules.plan.route', { n: plan.route + 1 })} · {plan.strategy ? t(`strategy.${plan.strategy}`) : ''}
              </Typography.Text>
              <Timeline
                items={plan.steps.map((s) => ({
                  color: CHANNEL_COLORS[s.channel],
                  children: (
                    <span>
                      <Tag color={CHANNEL_COLORS[s.channel]}>{t(`channel.${s.channel}`)}</Tag>
                      <Typography.Text code>{s.address}</Typography.Text>{' '}
                      <Typography.Text type="secondary">
                        {s.startsAfter === '0s' ? t('rules.plan.atOnce') : t('rules.plan.after', { after: durationText(s.startsAfter) })}
                      </Typography.Text>
                    </span>
                  ),
                }))}
              />
            </Space>
          )}
          {plan.suppressed.length > 0 && (
            <Descriptions size="small" column={1} title={t('rules.plan.skipped')} bordered>
              {plan.suppressed.map((s) => (
                <Descriptions.Item key={s.channel} label={t(`channel.${s.channel}`)}>
                  {s.reason}
                </Descriptions.Item>
              ))}
            </Descriptions>
          )}
        </Card>
      )}
    </Space>
  );
}

