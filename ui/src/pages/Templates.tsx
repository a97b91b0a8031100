// Templates: the app's templates; for the one picked, a preview that renders it for a channel
// with the variables filled in (phone-like frames for push, SMS and WeChat, the SMS segment
// count), the editor that saves its next version, and its version history with a diff.
import { EyeOutlined, PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import type { CombinedError } from '@urql/core';
import {
  Alert,
  Button,
  Card,
  Col,
  DatePicker,
  Form,
  Input,
  InputNumber,
  Row,
  Select,
  Space,
  Switch,
  Table,
  Tabs,
  Tag,
  Typography,
} from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useClient, useQuery } from 'urql';
import { PreviewTemplateQuery, TemplatesQuery } from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import type { Channel, RenderedMessage, Role, Template, Variable } from '../graphql/types';
import { canOperate } from '../lib/roles';
import { buildVariables } from '../lib/variables';
import { TemplateEditor } from './TemplateEditor';
import { TemplateHistory } from './TemplateHistory';

interface TemplatesProps {
  appId: string;
  role: Role;
  /** The template picked (from the route), "new" for the editor of a new one, or null. */
  templateId: string | null;
  onOpenTemplate: (id: string | null) => void;
}

const NEW = 'new';

export function Templates({ appId, role, templateId, onOpenTemplate }: TemplatesProps) {
  const { t, i18n } = useTranslation();
  const [{ data, fetching, error }, refetch] = useQuery({
    query: TemplatesQuery,
    variables: { appId },
    requestPolicy: 'cache-and-network',
  });
  const selectedId = templateId;
  const setSelectedId = onOpenTemplate;
  const templates = data?.templates ?? [];
  const selected = templates.find((tpl) => tpl.id === selectedId) ?? null;
  const creating = templateId === NEW && canOperate(role);
  const time = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'short' });

  const columns: ColumnsType<Template> = [
    { key: 'name', title: t('templates.column.name'), render: (_, tpl) => <Typography.Text strong>{tpl.name}</Typography.Text> },
    { key: 'version', title: t('templates.column.version'), render: (_, tpl) => `v${tpl.version}` },
    {
      key: 'class',
      title: t('templates.column.class'),
      render: (_, tpl) => (
        <Tag color={tpl.class === 'MARKETING' ? 'orange' : 'blue'}>{t(`templates.class.${tpl.class}`)}</Tag>
      ),
    },
    {
      key: 'channels',
      title: t('templates.column.channels'),
      render: (_, tpl) => tpl.variants.map((v) => t(`channel.${v.channel}`)).join(' / '),
    },
    {
      key: 'variables',
      title: t('templates.column.variables'),
      render: (_, tpl) => tpl.variables.map((v) => v.name).join(', ') || '—',
    },
    { key: 'createdAt', title: t('templates.column.createdAt'), render: (_, tpl) => time.format(new Date(tpl.createdAt)) },
  ];

  return (
    <Space direction="vertical" size="large" className="page">
      <div className="page-heading">
        <div>
          <Typography.Title level={3}>{t('templates.title')}</Typography.Title>
          <Typography.Text type="secondary">{t('templates.subtitle')}</Typography.Text>
        </div>
        <Space>
          <Button
            icon={<ReloadOutlined />}
            onClick={() => refetch({ requestPolicy: 'network-only' })}
            loading={fetching && !!data}
          >
            {t('common.refresh')}
          </Button>
          {canOperate(role) && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setSelectedId(NEW)}>
              {t('templateEditor.new')}
            </Button>
          )}
        </Space>
      </div>

      {error && <Alert type="error" showIcon message={t(`error.${errorCode(error)}`)} />}

      {creating ? (
        <Card size="small" title={t('templateEditor.new')}>
          <TemplateEditor
            appId={appId}
            onSaved={(tpl) => {
              refetch({ requestPolicy: 'network-only' });
              setSelectedId(tpl.id);
            }}
            onCancel={() => setSelectedId(null)}
          />
        </Card>
      ) : (
        <Row gutter={[16, 16]}>
          <Col xs={24} xl={selected ? 10 : 24}>
            <Card size="small">
              <Table<Template>
                rowKey="id"
                columns={selected ? columns.slice(0, 3) : columns}
                dataSource={templates}
                loading={fetching && !data}
                pagination={{ pageSize: 10, hideOnSinglePage: true }}
                size="middle"
                locale={{ emptyText: t('templates.empty') }}
                rowClassName={(tpl) => (tpl.id === selectedId ? 'row-selected' : '')}
                onRow={(tpl) => ({ onClick: () => setSelectedId(tpl.id), className: 'clickable-row' })}
              />
            </Card>
          </Col>
          {selected && (
            <Col xs={24} xl={14}>
              <Card size="small" title={`${selected.name} · v${selected.version}`}>
                <Tabs
                  destroyOnHidden
                  items={[
                    { key: 'preview', label: t('templates.preview'), children: <Preview key={`${selected.id}-${selected.version}`} template={selected} /> },
                    ...(canOperate(role)
                      ? [
                          {
                            key: 'edit',
                            label: t('templateEditor.edit'),
                            children: (
                              <TemplateEditor
                                key={`${selected.id}-${selected.version}`}
                                appId={appId}
                                template={selected}
                                onSaved={() => refetch({ requestPolicy: 'network-only' })}
                              />
                            ),
                          },
                        ]
                      : []),
                    { key: 'history', label: t('templateHistory.title'), children: <TemplateHistory key={`${selected.id}-${selected.version}`} template={selected} /> },
                  ]}
                />
              </Card>
            </Col>
          )}
        </Row>
      )}
    </Space>
  );
}

/** The API names a bad variable as `variables.<name>` (possibly under `input.`). */
function badVariable(error: CombinedError): string | null {
  for (const e of error.graphQLErrors) {
    const field = e.extensions?.['field'];
    if (typeof field === 'string') {
      const m = /(?:^|\.)variables\.(.+)$/.exec(field);
      if (m?.[1]) {
        return m[1];
      }
    }
  }
  return null;
}

function Preview({ template }: { template: Template }) {
  const { t } = useTranslation();
  const client = useClient();
  const [form] = Form.useForm<Record<string, unknown>>();
  const [channel, setChannel] = useState<Channel | undefined>(template.variants[0]?.channel);
  const [rendered, setRendered] = useState<RenderedMessage | null>(null);
  const [failure, setFailure] = useState<CombinedError | null>(null);
  const [loading, setLoading] = useState(false);

  const render = async (values: Record<string, unknown>) => {
    if (!channel) {
      return;
    }
    const built = buildVariables(template.variables, values);
    if (built.errors.length > 0) {
      form.setFields(built.errors.map((e) => ({ name: e.name, errors: [t(`templates.problem.${e.problem}`)] })));
      setRendered(null);
      return;
    }
    setLoading(true);
    const result = await client
      .query(PreviewTemplateQuery, { id: template.id, channel, variables: built.variables }, { requestPolicy: 'network-only' })
      .toPromise();
    setLoading(false);
    if (result.error) {
      const name = badVariable(result.error);
      if (name && template.variables.some((v) => v.name === name)) {
        // The API's message names the problem; show it on the field, not as raw JSON.
        form.setFields([{ name, errors: [result.error.graphQLErrors[0]?.message ?? t('error.BAD_INPUT')] }]);
        setFailure(null);
      } else {
        setFailure(result.error);
      }
      setRendered(null);
      return;
    }
    setFailure(null);
    setRendered(result.data?.previewTemplate ?? null);
  };

  const initialValues = Object.fromEntries(
    template.variables.filter((v) => v.type === 'bool').map((v) => [v.name, false] as const),
  );

  return (
    <Space direction="vertical" size="middle" className="page">
      <Form form={form} layout="vertical" initialValues={initialValues} onFinish={(v) => void render(v)}>
        <Form.Item label={t('templates.channel')}>
          <Select<Channel>
            value={channel}
            onChange={(c) => {
              setChannel(c);
              setRendered(null);
            }}
            options={template.variants.map((v) => ({ value: v.channel, label: t(`channel.${v.channel}`) }))}
          />
        </Form.Item>
        <Typography.Text strong>{t('templates.variables')}</Typography.Text>
        {template.variables.length === 0 && (
          <div>
            <Typography.Text type="secondary">{t('templates.noVariables')}</Typography.Text>
          </div>
        )}
        <div className="variable-grid">
          {template.variables.map((v) => (
            <VariableField key={v.name} variable={v} />
          ))}
        </div>
        <Button type="primary" htmlType="submit" icon={<EyeOutlined />} loading={loading} disabled={!channel}>
          {t('templates.render')}
        </Button>
      </Form>

      {failure && <Alert type="error" showIcon message={t(`error.${errorCode(failure)}`)} />}
      {rendered && <PhonePreview message={rendered} />}
    </Space>
  );
}

/** A form field for one declared variable, named by the variable (under prefix, when given). */
export function VariableField({ variable, prefix }: { variable: Variable; prefix?: string }) {
  const { t } = useTranslation();
  const known = ['string', 'number', 'bool', 'time'].includes(variable.type);
  const typeLabel = known ? t(`templates.variableType.${variable.type as 'string'}`) : variable.type;
  const label = (
    <Space size={4}>
      <span>{variable.name}</span>
      <Typography.Text type="secondary">({typeLabel})</Typography.Text>
    </Space>
  );
  const common = { name: prefix ? [prefix, variable.name] : variable.name, label, required: variable.required };
  switch (variable.type) {
    case 'number':
      return (
        <Form.Item {...common}>
          <InputNumber className="full-width" />
        </Form.Item>
      );
    case 'bool':
      return (
        <Form.Item {...common} valuePropName="checked" required={false}>
          <Switch />
        </Form.Item>
      );
    case 'time':
      return (
        <Form.Item {...common}>
          <DatePicker showTime className="full-width" />
        </Form.Item>
      );
    default:
      return (
        <Form.Item {...common}>
          <Input />
        </Form.Item>
      );
  }
}

/** What a preview shows of a message. */
type PreviewMessage = Pick<RenderedMessage, 'channel' | 'title' | 'body' | 'segments'>;

/** A rendered message as a person sees it: push, SMS and WeChat in a phone-like frame. */
export function PhonePreview({ message }: { message: PreviewMessage }) {
  const { t } = useTranslation();
  const phone = message.channel === 'SMS' || message.channel === 'APP_PUSH' || message.channel === 'WECHAT';
  const length = [...message.body].length;

  const content =
    message.channel === 'APP_PUSH' ? (
      <div className="push-card">
        <div className="push-app">Herald</div>
        <div className="push-title">{message.title ?? t('templates.noTitle')}</div>
        <div className="push-body">{message.body}</div>
      </div>
    ) : message.channel === 'SMS' ? (
      <div className="sms-bubble">{message.body}</div>
    ) : message.channel === 'WECHAT' ? (
      <div className="wechat-card">
        <div className="wechat-title">{message.title ?? t('templates.wechatNotice')}</div>
        <div className="wechat-body">{message.body}</div>
        <div className="wechat-more">{t('templates.wechatDetails')}</div>
      </div>
    ) : (
      <Card size="small" title={message.title ?? t('templates.noTitle')}>
        <Typography.Paragraph className="rendered-body">{message.body}</Typography.Paragraph>
      </Card>
    );

  return (
    <Space direction="vertical" className="page" align="center">
      {phone ? (
        <div className="phone-frame" data-channel={message.channel}>
          <div className="phone-notch" />
          <div className="phone-screen">
            <div className="phone-status">
              <span>9:41</span>
              <span>{t(`channel.${message.channel}`)}</span>
            </div>
            {content}
          </div>
        </div>
      ) : (
        content
      )}
      <Space size="middle">
        <Typography.Text type="secondary">{t('templates.characters', { count: length })}</Typography.Text>
        {message.segments != null && (
          <Tag color="geekblue" className="segment-count">
            {t('templates.segments', { count: message.segments })}
          </Tag>
        )}
      </Space>
    </Space>
  );
}
