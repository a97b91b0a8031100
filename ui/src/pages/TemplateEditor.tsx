// The template editor: name, class, declared variables and one variant per channel, each with
// its title, body and extra, a live draft preview in a phone-like frame and, for SMS, the
// segment counter. Saving makes version 1 (createTemplate) or the next version (updateTemplate).
import { DeleteOutlined, PlusOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Col, Form, Input, Radio, Row, Select, Space, Tag, Typography } from 'antd';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useMutation } from 'urql';
import { useFormProblems } from '../components/useFormProblems';
import { CreateTemplateMutation, UpdateTemplateMutation } from '../graphql/documents';
import { fieldsOf } from '../graphql/errors';
import { CHANNELS, MESSAGE_CLASSES, type Channel, type ErrorCode, type Template } from '../graphql/types';
import { buildTemplateInput, templateFormValues, TITLED_CHANNELS, VARIANT_LIMITS, type TemplateFormValues, type VariantRow } from '../lib/forms';
import { fillPlaceholders, smsSize } from '../lib/text';
import { VariableRows } from './Rules';
import { PhonePreview } from './Templates';

const templateFields = fieldsOf(
  'name',
  'class',
  'variants',
  'variables.*.name',
  'variables.*.type',
  'variants.*.channel',
  'variants.*.title',
  'variants.*.body',
  'variants.*.extra',
);

interface TemplateEditorProps {
  appId: string;
  /** The template to save a new version of; none for a new template. */
  template?: Template;
  onSaved: (t: Template) => void;
  onCancel?: () => void;
}

export function TemplateEditor({ appId, template, onSaved, onCancel }: TemplateEditorProps) {
  const { t } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<TemplateFormValues>();
  const problems = useFormProblems(form, templateFields);
  const [failure, setFailure] = useState<ErrorCode | null>(null);
  const [createState, create] = useMutation(CreateTemplateMutation);
  const [updateState, update] = useMutation(UpdateTemplateMutation);
  const busy = createState.fetching || updateState.fetching;
  const initial = useMemo<TemplateFormValues>(
    () =>
      template
        ? templateFormValues(template)
        : { name: '', class: 'TRANSACTIONAL', variables: [], variants: [{ channel: 'SMS', title: '', body: '', extra: '' }] },
    [template],
  );
  const variants = Form.useWatch('variants', form) ?? initial.variants ?? [];
  const [previewIndex, setPreviewIndex] = useState(0);
  const shown: VariantRow | undefined = variants[Math.min(previewIndex, variants.length - 1)];

  const submit = async (values: TemplateFormValues) => {
    setFailure(null);
    const built = buildTemplateInput(appId, values);
    if (problems.show(built.problems) || !built.input) {
      return;
    }
    const result = template ? await update({ id: template.id, input: built.input }) : await create({ input: built.input });
    if (result.error) {
      setFailure(problems.showApiError(result.error));
      return;
    }
    const saved = result.data && ('updateTemplate' in result.data ? result.data.updateTemplate : result.data.createTemplate);
    if (saved) {
      void message.success(t('templateEditor.saved', { name: saved.name, version: saved.version }));
      onSaved(saved);
    }
  };

  return (
    <Form<TemplateFormValues> form={form} layout="vertical" initialValues={initial} onFinish={(v) => void submit(v)} disabled={busy}>
      {failure && <Alert type="error" showIcon message={t(`error.${failure}`)} className="form-alert" role="alert" />}
      <Row gutter={12}>
        <Col span={14}>
          <Form.Item name="name" label={t('templateEditor.name')} rules={[{ required: true, whitespace: true, message: t('form.required') }]}>
            <Input maxLength={100} disabled={!!template || busy} />
          </Form.Item>
        </Col>
        <Col span={10}>
          <Form.Item name="class" label={t('templateEditor.class')}>
            <Radio.Group optionType="button" options={MESSAGE_CLASSES.map((c) => ({ value: c, label: t(`templates.class.${c}`) }))} />
          </Form.Item>
        </Col>
      </Row>

      <Typography.Text strong>{t('templates.variables')}</Typography.Text>
      <Typography.Paragraph type="secondary">{t('templateEditor.variablesHelp', { example: '{{name}}' })}</Typography.Paragraph>
      <VariableRows />

      <Typography.Text strong>{t('templateEditor.variants')}</Typography.Text>
      <Row gutter={16}>
        <Col xs={24} xl={15}>
          <Form.List name="variants">
            {(fields, { add, remove }) => (
              <Space direction="vertical" className="page">
                {fields.map((field, index) => {
                  const row = variants[index];
                  const channel = row?.channel;
                  const limits = channel ? (VARIANT_LIMITS[channel] ?? {}) : {};
                  const body = row?.body ?? '';
                  const sms = channel === 'SMS' ? smsSize(body) : null;
                  return (
                    <Card
                      key={field.key}
                      size="small"
                      className={index === previewIndex ? 'variant-card variant-active' : 'variant-card'}
                      onFocus={() => setPreviewIndex(index)}
                      onClick={() => setPreviewIndex(index)}
                      title={
                        <Form.Item name={[field.name, 'channel']} noStyle>
                          <Select<Channel>
                            className="variant-channel"
                            aria-label={t('templates.channel')}
                            options={CHANNELS.map((c) => ({ value: c, label: t(`channel.${c}`), disabled: variants.some((v, k) => k !== index && v?.channel === c) }))}
                          />
                        </Form.Item>
                      }
                      extra={
                        <Button
                          type="text"
                          danger
                          size="small"
                          icon={<DeleteOutlined />}
                          disabled={fields.length === 1}
                          onClick={() => remove(field.name)}
                          aria-label={t('templateEditor.removeVariant')}
                        />
                      }
                    >
                      {channel && (TITLED_CHANNELS.has(channel) || limits.titleRequired) && (
                        <Form.Item
                          name={[field.name, 'title']}
                          label={t(channel === 'EMAIL' ? 'templateEditor.subject' : 'templateEditor.title')}
                          extra={limits.title ? t('templateEditor.atMost', { max: limits.title }) : undefined}
                        >
                          <Input />
                        </Form.Item>
                      )}
                      <Form.Item
                        name={[field.name, 'body']}
                        label={t(channel === 'EMAIL' ? 'templateEditor.html' : 'templateEditor.body')}
                        extra={
                          <Space size="middle" wrap>
                            <span>{t('templates.characters', { count: [...body].length })}</span>
                            {limits.body && <span>{t('templateEditor.atMost', { max: limits.body })}</span>}
                            {sms && (
                              <Tag color="geekblue" className="segment-count">
                                {t('templateEditor.smsSegments', { count: sms.segments, encoding: sms.encoding, units: sms.units })}
                              </Tag>
                            )}
                          </Space>
                        }
                      >
                        <Input.TextArea rows={channel === 'EMAIL' ? 6 : 3} placeholder={t('templateEditor.bodyPlaceholder', { example: '{{code}}' })} />
                      </Form.Item>
                      <Form.Item name={[field.name, 'extra']} label={t('templateEditor.extra')} extra={t(`templateEditor.extraHelp.${channel ?? 'SMS'}`)}>
                        <Input.TextArea rows={2} className="mono" placeholder="{}" />
                      </Form.Item>
                    </Card>
                  );
                })}
                {fields.length < CHANNELS.length && (
                  <Button
                    type="dashed"
                    icon={<PlusOutlined />}
                    block
                    onClick={() => {
                      const free = CHANNELS.find((c) => !variants.some((v) => v?.channel === c));
                      add({ channel: free, title: '', body: '', extra: '' });
                      setPreviewIndex(fields.length);
                    }}
                  >
                    {t('templateEditor.addVariant')}
                  </Button>
                )}
              </Space>
            )}
          </Form.List>
        </Col>
        <Col xs={24} xl={9}>
          <Card size="small" title={t('templateEditor.draftPreview')} className="draft-preview">
            {shown?.channel ? (
              <PhonePreview
                message={{
                  channel: shown.channel,
                  title: shown.title ? fillPlaceholders(shown.title) : null,
                  body: fillPlaceholders(shown.body ?? ''),
                  segments: shown.channel === 'SMS' ? smsSize(fillPlaceholders(shown.body ?? '')).segments : null,
                }}
              />
            ) : (
              <Typography.Text type="secondary">{t('templateEditor.pickChannel')}</Typography.Text>
            )}
            <Typography.Paragraph type="secondary" className="draft-note">
              {t('templateEditor.draftNote')}
            </Typography.Paragraph>
          </Card>
        </Col>
      </Row>

      <Space className="form-actions">
        <Button type="primary" htmlType="submit" loading={busy}>
          {template ? t('templateEditor.saveVersion') : t('templateEditor.create')}
        </Button>
        {onCancel && <Button onClick={onCancel}>{t('common.cancel')}</Button>}
      </Space>
    </Form>
  );
}
