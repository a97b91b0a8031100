// Creating a task: who (kind, and users or an audience), what (template, rule, variables) and
// when (now, at a time, or on a cron schedule with its next runs shown). The form makes the
// checks createTask makes; an error the API still finds lands on the field it names.
import { Alert, App, Button, DatePicker, Drawer, Form, Input, InputNumber, List, Radio, Select, Space, Typography } from 'antd';
import dayjs from 'dayjs';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useMutation, useQuery } from 'urql';
import { useFormProblems } from '../components/useFormProblems';
import { AudiencesQuery, CreateTaskMutation, RulesQuery, TemplatesQuery } from '../graphql/documents';
import { errorCode, fieldsOf, type FieldPath } from '../graphql/errors';
import { TASK_KINDS, type ErrorCode, type TaskDetail, type TaskKind } from '../graphql/types';
import { checkCron } from '../lib/cron';
import { audienceKindsFor, buildTaskInput, MAX_LIST_USERS, mergeVariables, type TaskFormValues } from '../lib/forms';
import { VariableField } from './Templates';

interface TaskCreateProps {
  appId: string;
  /** Herald's time zone, in which cron schedules run. */
  timeZone: string;
  open: boolean;
  onClose: () => void;
  onCreated: (task: TaskDetail) => void;
}

const baseFields = fieldsOf('name', 'kind', 'templateId', 'ruleId', 'audienceId', 'userIds', 'startAt', 'cron', 'priority');
const known = (path: FieldPath) => baseFields(path) || (path[0] === 'variables' && path.length === 2);

export function TaskCreate({ appId, timeZone, open, onClose, onCreated }: TaskCreateProps) {
  const { t } = useTranslation();
  return (
    <Drawer open={open} onClose={onClose} title={t('taskForm.title')} width={620} destroyOnHidden>
      {open && <TaskForm appId={appId} timeZone={timeZone} onCreated={onCreated} onCancel={onClose} />}
    </Drawer>
  );
}

interface TaskFormProps {
  appId: string;
  timeZone: string;
  onCreated: (task: TaskDetail) => void;
  onCancel: () => void;
}

function TaskForm({ appId, timeZone, onCreated, onCancel }: TaskFormProps) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const [form] = Form.useForm<TaskFormValues>();
  const problems = useFormProblems(form, known);
  const [failure, setFailure] = useState<ErrorCode | null>(null);
  const [{ fetching }, createTask] = useMutation(CreateTaskMutation);
  const [templates] = useQuery({ query: TemplatesQuery, variables: { appId } });
  const [rules] = useQuery({ query: RulesQuery, variables: { appId } });
  const [audiences] = useQuery({ query: AudiencesQuery, variables: { appId } });

  const kind = Form.useWatch('kind', form);
  const templateId = Form.useWatch('templateId', form);
  const ruleId = Form.useWatch('ruleId', form);
  const timing = Form.useWatch('timing', form) ?? 'now';
  const cron = Form.useWatch('cron', form);
  const startAt = Form.useWatch('startAt', form);

  const template = templates.data?.templates.find((x) => x.id === templateId);
  const rule = rules.data?.rules.find((x) => x.id === ruleId);
  const declared = useMemo(() => mergeVariables(template?.variables, rule?.variables), [template, rule]);
  const audienceKinds = audienceKindsFor(kind);
  const audienceOptions = (audiences.data?.audiences ?? [])
    .filter((a) => audienceKinds.includes(a.kind))
    .map((a) => ({ value: a.id, label: `${a.name} · ${t(`audienceKind.${a.kind}`)}` }));

  const cronCheck = useMemo(() => {
    if (timing !== 'cron' || !cron || cron.trim() === '') {
      return null;
    }
    const at = startAt ? dayjs(startAt).toDate() : null;
    const from = at && at > new Date() ? at : new Date();
    return checkCron(cron, from, 5, timeZone);
  }, [timing, cron, startAt, timeZone]);
  // The runs are shown on the schedule's own clock: Herald's zone, or the one CRON_TZ names.
  const runZone = cronCheck?.ok ? (cronCheck.schedule.zone ?? 'UTC') : timeZone;
  const time = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'full', timeStyle: 'short', timeZone: runZone });

  const submit = async (values: TaskFormValues) => {
    setFailure(null);
    const audienceKind = (id: string) => audiences.data?.audiences.find((a) => a.id === id)?.kind;
    const built = buildTaskInput(appId, values, declared, audienceKind, new Date());
    if (problems.show(built.problems) || !built.input) {
      return;
    }
    const result = await createTask({ input: built.input });
    if (result.error) {
      setFailure(problems.showApiError(result.error));
      return;
    }
    if (result.data) {
      void message.success(t('taskForm.created', { name: result.data.createTask.name }));
      onCreated(result.data.createTask);
    }
  };

  const listError = templates.error ?? rules.error ?? audiences.error;

  return (
    <Form<TaskFormValues>
      form={form}
      layout="vertical"
      initialValues={{ kind: 'BROADCAST', timing: 'now', priority: 5 }}
      onFinish={(v) => void submit(v)}
      disabled={fetching}
      scrollToFirstError
    >
      {listError && <Alert type="error" showIcon message={t(`error.${errorCode(listError)}`)} className="form-alert" />}
      {failure && <Alert type="error" showIcon message={t(`error.${failure}`)} className="form-alert" role="alert" />}

      <Form.Item name="name" label={t('taskForm.name')} rules={[{ required: true, whitespace: true, message: t('form.required') }, { max: 200, message: t('form.lengthBetween', { min: 1, max: 200 }) }]}>
        <Input placeholder={t('taskForm.namePlaceholder')} maxLength={200} />
      </Form.Item>

      <Form.Item name="kind" label={t('taskForm.kind')} required extra={kind ? t(`taskForm.kindHelp.${kind}`) : undefined}>
        <Select<TaskKind> options={TASK_KINDS.map((k) => ({ value: k, label: t(`taskKind.${k}`) }))} />
      </Form.Item>

      {(kind === 'SINGLE' || kind === 'LIST') && (
        <Form.Item
          name="userIds"
          label={t('taskForm.userIds')}
          required
          extra={t('taskForm.userIdsHelp', { max: kind === 'SINGLE' ? 1 : MAX_LIST_USERS })}
        >
          <Input.TextArea rows={kind === 'SINGLE' ? 1 : 4} placeholder="user-1001" />
        </Form.Item>
      )}
      {(kind === 'TAG' || kind === 'GROUP') && (
        <Form.Item name="audienceId" label={t('taskForm.audience')} required extra={t(`taskForm.audienceHelp.${kind}`)}>
          <Select
            showSearch
            optionFilterProp="label"
            loading={audiences.fetching}
            options={audienceOptions}
            notFoundContent={t('taskForm.noAudience')}
          />
        </Form.Item>
      )}

      <Form.Item name="templateId" label={t('taskForm.template')} required>
        <Select
          showSearch
          optionFilterProp="label"
          loading={templates.fetching}
          options={(templates.data?.templates ?? []).map((x) => ({ value: x.id, label: `${x.name} (v${x.version})` }))}
          notFoundContent={t('taskForm.noTemplate')}
        />
      </Form.Item>
      <Form.Item name="ruleId" label={t('taskForm.rule')} required>
        <Select
          showSearch
          optionFilterProp="label"
          loading={rules.fetching}
          options={(rules.data?.rules ?? []).map((x) => ({ value: x.id, label: `${x.name} (v${x.version})` }))}
          notFoundContent={t('taskForm.noRule')}
        />
      </Form.Item>

      {declared.length > 0 && (
        <>
          <Typography.Text strong>{t('taskForm.variables')}</Typography.Text>
          <div className="variable-grid">
            {declared.map((v) => (
              <VariableField key={v.name} variable={v} prefix="variables" />
            ))}
          </div>
        </>
      )}

      <Form.Item name="timing" label={t('taskForm.when')}>
        <Radio.Group
          optionType="button"
          options={(['now', 'at', 'cron'] as const).map((w) => ({ value: w, label: t(`taskForm.timing.${w}`) }))}
        />
      </Form.Item>
      {(timing === 'at' || timing === 'cron') && (
        <Form.Item name="startAt" label={t(timing === 'at' ? 'taskForm.startAt' : 'taskForm.cronFrom')}>
          <DatePicker showTime className="full-width" />
        </Form.Item>
      )}
      {timing === 'cron' && (
        <>
          <Form.Item name="cron" label={t('taskForm.cron')} extra={t('taskForm.cronHelp', { zone: timeZone })}>
            <Input placeholder="0 9 * * 1-5" className="mono" />
          </Form.Item>
          {cronCheck && (
            <div className="next-runs" aria-live="polite">
              {cronCheck.ok ? (
                <List
                  size="small"
                  header={<Typography.Text strong>{t('taskForm.nextRuns', { zone: runZone })}</Typography.Text>}
                  dataSource={cronCheck.next}
                  renderItem={(d) => <List.Item>{time.format(d)}</List.Item>}
                />
              ) : (
                <Typography.Text type="danger">{t(`form.cron.${cronCheck.problem}`, { detail: cronCheck.message })}</Typography.Text>
              )}
            </div>
          )}
        </>
      )}

      <Form.Item name="priority" label={t('taskForm.priority')} extra={t('taskForm.priorityHelp')}>
        <InputNumber min={0} max={9} precision={0} />
      </Form.Item>

      <Space>
        <Button type="primary" htmlType="submit" loading={fetching}>
          {t('taskForm.submit')}
        </Button>
        <Button onClick={onCancel}>{t('common.cancel')}</Button>
      </Space>
    </Form>
  );
}
