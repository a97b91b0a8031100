// Audiences: the app's target groups with their sizes, a sample of the users in one, and a
// form that makes a TAG or SEGMENT audience (or a STATIC list, or ALL), checking the
// expression as it is typed and showing the size and a sample of what it would hold
// (previewAudience, asked once typing pauses) before it is saved.
import { PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Col, Empty, Form, Input, Radio, Row, Space, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useMutation, useQuery } from 'urql';
import { useDebounced } from '../components/useDebounced';
import { useFormProblems } from '../components/useFormProblems';
import { AudienceSampleQuery, AudiencesQuery, CreateAudienceMutation, PreviewAudienceQuery } from '../graphql/documents';
import { errorCode, fieldsOf } from '../graphql/errors';
import { AUDIENCE_KINDS, type Audience, type AudienceKind, type AudiencePreviewInput, type ErrorCode, type Role } from '../graphql/types';
import { PREVIEW_DELAY_MS, previewInput, previewKey, previewProblem } from '../lib/audiencePreview';
import { formatCount } from '../lib/format';
import { buildAudienceInput, tagExpressionProblem, type AudienceFormValues } from '../lib/forms';
import { canOperate } from '../lib/roles';

interface AudiencesProps {
  appId: string;
  role: Role;
  audienceId: string | null;
  onOpenAudience: (id: string | null) => void;
  onOpenUser: (id: string) => void;
}

const NEW = 'new';
const SAMPLE = 10;

export function Audiences({ appId, role, audienceId, onOpenAudience, onOpenUser }: AudiencesProps) {
  const { t, i18n } = useTranslation();
  const [{ data, fetching, error }, refetch] = useQuery({ query: AudiencesQuery, variables: { appId }, requestPolicy: 'cache-and-network' });
  const audiences = data?.audiences ?? [];
  const creating = audienceId === NEW && canOperate(role);

  const columns: ColumnsType<Audience> = [
    { key: 'name', title: t('audiences.column.name'), render: (_, a) => <Typography.Text strong>{a.name}</Typography.Text> },
    { key: 'kind', title: t('audiences.column.kind'), render: (_, a) => <Tag>{t(`audienceKind.${a.kind}`)}</Tag> },
    { key: 'size', title: t('audiences.column.size'), align: 'right', render: (_, a) => formatCount(a.size, i18n.language) },
  ];

  return (
    <Space direction="vertical" size="large" className="page">
      <div className="page-heading">
        <div>
          <Typography.Title level={3}>{t('audiences.title')}</Typography.Title>
          <Typography.Text type="secondary">{t('audiences.subtitle')}</Typography.Text>
        </div>
        <Space>
          <Button icon={<ReloadOutlined />} onClick={() => refetch({ requestPolicy: 'network-only' })} loading={fetching && !!data}>
            {t('common.refresh')}
          </Button>
          {canOperate(role) && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => onOpenAudience(NEW)}>
              {t('audiences.new')}
            </Button>
          )}
        </Space>
      </div>
      {error && <Alert type="error" showIcon message={t(`error.${errorCode(error)}`)} />}
      <Row gutter={[16, 16]}>
        <Col xs={24} xl={10}>
          <Card size="small">
            <Table<Audience>
              rowKey="id"
              size="middle"
              columns={columns}
              dataSource={audiences}
              loading={fetching && !data}
              pagination={{ pageSize: 10, hideOnSinglePage: true }}
              locale={{ emptyText: t('audiences.empty') }}
              rowClassName={(a) => (a.id === audienceId ? 'row-selected' : '')}
              onRow={(a) => ({ onClick: () => onOpenAudience(a.id), className: 'clickable-row' })}
            />
          </Card>
        </Col>
        <Col xs={24} xl={14}>
          {creating ? (
            <Card size="small" title={t('audiences.new')}>
              <AudienceForm
                appId={appId}
                onOpenUser={onOpenUser}
                onCreated={(a) => {
                  refetch({ requestPolicy: 'network-only' });
                  onOpenAudience(a.id);
                }}
                onCancel={() => onOpenAudience(null)}
              />
            </Card>
          ) : audienceId && audienceId !== NEW ? (
            <AudienceSample key={audienceId} id={audienceId} onOpenUser={onOpenUser} />
          ) : (
            <Card size="small">
              <Empty description={t('audiences.pick')} />
            </Card>
          )}
        </Col>
      </Row>
    </Space>
  );
}

/** One audience: its size and a sample of its users. */
function AudienceSample({ id, onOpenUser }: { id: string; onOpenUser: (id: string) => void }) {
  const { t, i18n } = useTranslation();
  const [{ data, fetching, error }, refetch] = useQuery({ query: AudienceSampleQuery, variables: { id, n: SAMPLE }, requestPolicy: 'network-only' });
  const a = data?.audience;
  return (
    <Card
      size="small"
      title={a ? `${a.name} · ${t(`audienceKind.${a.kind}`)}` : t('audiences.sample')}
      extra={
        <Button size="small" icon={<ReloadOutlined />} onClick={() => refetch({ requestPolicy: 'network-only' })} loading={fetching}>
          {t('audiences.resample')}
        </Button>
      }
    >
      {error && <Alert type="error" showIcon message={t(`error.${errorCode(error)}`)} />}
      {a && (
        <Space direction="vertical" className="page">
          <Typography.Text>
            {t('audiences.sizeIs', { size: formatCount(a.size, i18n.language) })}
          </Typography.Text>
          <SampleTable users={a.sample} onOpenUser={onOpenUser} />
        </Space>
      )}
    </Card>
  );
}

interface SampleUser {
  id: string;
  tags: string[];
  attributes?: unknown;
}

/** The users of a sample with their tags and attributes. */
function SampleTable({ users, onOpenUser }: { users: SampleUser[]; onOpenUser: (id: string) => void }) {
  const { t } = useTranslation();
  return (
    <Table<SampleUser>
      rowKey="id"
      size="small"
      pagination={false}
      dataSource={users}
      locale={{ emptyText: t('audiences.noUsers') }}
      columns={[
        {
          key: 'id',
          title: t('audiences.user'),
          render: (_, u) => <Typography.Link onClick={() => onOpenUser(u.id)}>{u.id}</Typography.Link>,
        },
        { key: 'tags', title: t('audiences.tags'), render: (_, u) => u.tags.map((tag) => <Tag key={tag}>{tag}</Tag>) },
        {
          key: 'attributes',
          title: t('audiences.attributes'),
          render: (_, u) => (
            <Typography.Text type="secondary" className="mono">
              {u.attributes && typeof u.attributes === 'object'
                ? Object.entries(u.attributes).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ')
                : '—'}
            </Typography.Text>
          ),
        },
      ]}
    />
  );
}

const audienceFields = fieldsOf('name', 'kind', 'expression', 'userIds');

interface AudienceFormProps {
  appId: string;
  onCreated: (a: Audience) => void;
  onCancel: () => void;
  onOpenUser: (id: string) => void;
}

function AudienceForm({ appId, onCreated, onCancel, onOpenUser }: AudienceFormProps) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<AudienceFormValues>();
  const problems = useFormProblems(form, audienceFields);
  const [failure, setFailure] = useState<ErrorCode | null>(null);
  const [{ fetching }, create] = useMutation(CreateAudienceMutation);
  const kind = Form.useWatch('kind', form) ?? 'TAG';
  const expression = Form.useWatch('expression', form) ?? '';
  const userIds = Form.useWatch('userIds', form) ?? '';
  const live = useMemo(() => (kind === 'TAG' && expression.trim() !== '' ? tagExpressionProblem(expression) : null), [kind, expression]);
  // The preview follows the form once typing pauses; an input the form refuses is not sent.
  const key = useMemo(() => previewKey(previewInput(appId, { kind, expression, userIds })), [appId, kind, expression, userIds]);
  const settled = useDebounced(key, PREVIEW_DELAY_MS);
  const [preview] = useQuery({
    query: PreviewAudienceQuery,
    variables: { input: settled ? (JSON.parse(settled) as AudiencePreviewInput) : { appId, kind } },
    pause: settled === null,
    requestPolicy: 'network-only',
  });
  const current = settled !== null && settled === key;
  const previewed = current && !preview.fetching ? preview.data?.previewAudience : undefined;
  const refused = current && !preview.fetching ? previewProblem(preview.error) : null;
  const exprHelp = live ? t(`form.${live.key}` as 'form.required', live.values) : refused?.field === 'expression' ? refused.message : undefined;

  const submit = async (values: AudienceFormValues) => {
    setFailure(null);
    const built = buildAudienceInput(appId, values);
    if (problems.show(built.problems) || !built.input) {
      return;
    }
    const result = await create({ input: built.input });
    if (result.error) {
      // The API names tagExpr or segment; the form has one expression field for both.
      const err = result.error.graphQLErrors.find((e) => ['input.tagExpr', 'input.segment'].includes(String(e.extensions?.['field'])));
      if (err) {
        form.setFields([{ name: 'expression', errors: [err.message] }]);
        return;
      }
      setFailure(problems.showApiError(result.error));
      return;
    }
    if (result.data) {
      void message.success(t('audiences.created', { name: result.data.createAudience.name }));
      onCreated(result.data.createAudience);
    }
  };

  return (
    <Form<AudienceFormValues> form={form} layout="vertical" initialValues={{ kind: 'TAG' }} onFinish={(v) => void submit(v)} disabled={fetching}>
      {failure && <Alert type="error" showIcon message={t(`error.${failure}`)} className="form-alert" role="alert" />}
      <Form.Item name="name" label={t('audiences.name')} rules={[{ required: true, whitespace: true, message: t('form.required') }]}>
        <Input maxLength={100} />
      </Form.Item>
      <Form.Item name="kind" label={t('audiences.kind')}>
        <Radio.Group optionType="button" options={AUDIENCE_KINDS.map((k: AudienceKind) => ({ value: k, label: t(`audienceKind.${k}`) }))} />
      </Form.Item>
      {(kind === 'TAG' || kind === 'SEGMENT') && (
        <Form.Item
          name="expression"
          label={t(kind === 'TAG' ? 'audiences.tagExpr' : 'audiences.segment')}
          extra={t(kind === 'TAG' ? 'audiences.tagExprHelp' : 'audiences.segmentHelp')}
          validateStatus={live ? 'warning' : refused?.field === 'expression' ? 'error' : undefined}
          help={exprHelp}
        >
          <Input.TextArea rows={2} className="mono" placeholder={kind === 'TAG' ? 'vip && !churned' : 'age >= 30 && city == "杭州"'} />
        </Form.Item>
      )}
      {kind === 'STATIC' && (
        <Form.Item
          name="userIds"
          label={t('audiences.userIds')}
          extra={t('audiences.userIdsHelp')}
          validateStatus={refused?.field === 'userIds' ? 'error' : undefined}
          help={refused?.field === 'userIds' ? refused.message : undefined}
        >
          <Input.TextArea rows={4} />
        </Form.Item>
      )}
      {kind === 'ALL' && <Alert type="info" showIcon message={t('audiences.allHelp')} className="form-alert" />}
      {key !== null && (
        <Card size="small" className="form-alert" title={t('audiences.preview')} data-testid="audience-preview" loading={!previewed && !refused && !(current && preview.error)}>
          {previewed ? (
            <Space direction="vertical" className="page">
              <Typography.Text data-testid="audience-preview-size">
                {t('audiences.previewSize', { size: formatCount(previewed.size, i18n.language) })}
              </Typography.Text>
              <SampleTable users={previewed.sample} onOpenUser={onOpenUser} />
            </Space>
          ) : refused ? (
            <Typography.Text type="secondary">{t('audiences.previewRefused')}</Typography.Text>
          ) : preview.error && current ? (
            <Typography.Text type="danger">{t(`error.${errorCode(preview.error)}`)}</Typography.Text>
          ) : null}
        </Card>
      )}
      <Space>
        <Button type="primary" htmlType="submit" loading={fetching}>
          {t('audiences.create')}
        </Button>
        <Button onClick={onCancel}>{t('common.cancel')}</Button>
      </Space>
    </Form>
  );
}
