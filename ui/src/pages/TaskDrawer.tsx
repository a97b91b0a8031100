// A task's detail: what it sends, its live progress (the taskProgress subscription while it
// runs, with a slower poll for its status), a funnel per channel and, for OPERATOR and ADMIN,
// pause / resume / cancel behind a confirmation.
import { Alert, App, Button, Col, Descriptions, Drawer, Popconfirm, Progress, Row, Space, Spin, Statistic, Tag, Typography } from 'antd';
import type { CombinedError } from '@urql/core';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useMutation, useQuery, useSubscription } from 'urql';
import {
  CancelTaskMutation,
  PauseTaskMutation,
  ResumeTaskMutation,
  TaskProgressSubscription,
  TaskQuery,
} from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import type { Role, TaskDetail, TaskProgress } from '../graphql/types';
import { formatCount } from '../lib/format';
import { isLive, progressPercent, taskActions } from '../lib/progress';
import { canOperate } from '../lib/roles';
import { TaskFunnel } from './TaskFunnel';
import { TASK_STATUS_COLORS } from './Tasks';

/** How often a running task's status is read again (its counts come by subscription). */
const POLL_MS = 5000;

type CountField = Exclude<keyof TaskProgress, 'shardsTotal' | 'shardsDone'>;

const COUNTS: CountField[] = [
  'total',
  'sent',
  'delivered',
  'displayed',
  'clicked',
  'failed',
  'suppressed',
  'fallbacks',
  'redundant',
  'saved',
];

interface TaskDrawerProps {
  taskId: string | null;
  role: Role;
  onClose: () => void;
  onChanged: (task: TaskDetail) => void;
}

export function TaskDrawer({ taskId, role, onClose, onChanged }: TaskDrawerProps) {
  const { t } = useTranslation();
  return (
    <Drawer open={taskId !== null} onClose={onClose} title={t('tasks.detail.title')} width={560} destroyOnHidden>
      {taskId && <TaskBody taskId={taskId} role={role} onChanged={onChanged} />}
    </Drawer>
  );
}

function TaskBody({ taskId, role, onChanged }: { taskId: string; role: Role; onChanged: (task: TaskDetail) => void }) {
  const { t, i18n } = useTranslation();
  const { message } = App.useApp();
  const locale = i18n.language;
  const [{ data, fetching, error }, refetch] = useQuery({
    query: TaskQuery,
    variables: { id: taskId },
    requestPolicy: 'network-only',
  });
  const [pauseState, pause] = useMutation(PauseTaskMutation);
  const [resumeState, resume] = useMutation(ResumeTaskMutation);
  const [cancelState, cancel] = useMutation(CancelTaskMutation);

  const task = data?.task ?? null;
  const live = isLive(task?.status);
  // The subscription's latest progress, newer than the query's while the task runs.
  const [{ data: pushed }] = useSubscription({ query: TaskProgressSubscription, variables: { id: taskId }, pause: !live });
  const [pushedDone, setPushedDone] = useState(false);

  useEffect(() => {
    if (!live) {
      return undefined;
    }
    const timer = window.setInterval(() => refetch({ requestPolicy: 'network-only' }), POLL_MS);
    return () => window.clearInterval(timer);
  }, [live, refetch]);

  // Every shard done: read the task again at once for its final status.
  const progressDone = !!pushed && pushed.taskProgress.shardsTotal > 0 && pushed.taskProgress.shardsDone >= pushed.taskProgress.shardsTotal;
  useEffect(() => {
    if (progressDone && !pushedDone && live) {
      setPushedDone(true);
      refetch({ requestPolicy: 'network-only' });
    }
  }, [progressDone, pushedDone, live, refetch]);

  if (!data && fetching) {
    return <Spin className="drawer-spin" />;
  }
  if (error && !task) {
    return (
      <Alert
        type="error"
        showIcon
        message={t(`error.${errorCode(error)}`)}
        action={
          <Button size="small" onClick={() => refetch({ requestPolicy: 'network-only' })}>
            {t('error.retry')}
          </Button>
        }
      />
    );
  }
  if (!task) {
    return <Alert type="warning" showIcon message={t('tasks.detail.notFound')} />;
  }

  const p = live && pushed ? pushed.taskProgress : task.progress;
  const percent = progressPercent(p.shardsDone, p.shardsTotal, task.status);
  const time = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'medium' });
  const actions = taskActions(task.status);
  const busy = pauseState.fetching || resumeState.fetching || cancelState.fetching;

  const settle = (failure: CombinedError | undefined, updated: TaskDetail | undefined, done: string) => {
    if (failure) {
      void message.error(t(`error.${errorCode(failure)}`));
      return;
    }
    if (updated) {
      onChanged(updated);
    }
    void message.success(done);
    refetch({ requestPolicy: 'network-only' });
  };
  const onPause = async () => {
    const r = await pause({ id: task.id });
    settle(r.error, r.data?.pauseTask, t('tasks.action.paused'));
  };
  const onResume = async () => {
    const r = await resume({ id: task.id });
    settle(r.error, r.data?.resumeTask, t('tasks.action.resumed'));
  };
  const onCancel = async () => {
    const r = await cancel({ id: task.id });
    settle(r.error, r.data?.cancelTask, t('tasks.action.cancelled'));
  };

  const confirmButton = (key: string, label: string, title: string, onConfirm: () => void, danger = false) => (
    <Popconfirm
      key={key}
      title={title}
      okText={t('common.ok')}
      cancelText={t('common.cancel')}
      okButtonProps={{ danger }}
      onConfirm={onConfirm}
    >
      <Button danger={danger} disabled={busy}>
        {label}
      </Button>
    </Popconfirm>
  );

  return (
    <Space direction="vertical" size="large" className="page">
      <div className="page-heading">
        <Space>
          <Typography.Title level={4} className="drawer-title">
            {task.name || task.id}
          </Typography.Title>
          <Tag color={TASK_STATUS_COLORS[task.status]}>{t(`taskStatus.${task.status}`)}</Tag>
        </Space>
        {canOperate(role) && (
          <Space>
            {actions.pause &&
              confirmButton('pause', t('tasks.action.pause'), t('tasks.action.pauseConfirm', { name: task.name }), () => void onPause())}
            {actions.resume &&
              confirmButton('resume', t('tasks.action.resume'), t('tasks.action.resumeConfirm', { name: task.name }), () => void onResume())}
            {actions.cancel &&
              confirmButton(
                'cancel',
                t('tasks.action.cancel'),
                t('tasks.action.cancelConfirm', { name: task.name }),
                () => void onCancel(),
                true,
              )}
          </Space>
        )}
      </div>

      <Descriptions size="small" column={1} bordered>
        <Descriptions.Item label={t('tasks.column.kind')}>
          {t(`taskKind.${task.kind}`)} · {t(`lane.${task.lane}`)}
        </Descriptions.Item>
        <Descriptions.Item label={t('tasks.detail.template')}>
          {task.template.name} <Typography.Text type="secondary">v{task.template.version}</Typography.Text>
        </Descriptions.Item>
        <Descriptions.Item label={t('tasks.detail.rule')}>
          {task.rule.name} <Typography.Text type="secondary">v{task.rule.version}</Typography.Text>
        </Descriptions.Item>
        {task.cron && <Descriptions.Item label={t('tasks.detail.cron')}>{task.cron}</Descriptions.Item>}
        {task.nextRunAt && (
          <Descriptions.Item label={t('tasks.detail.nextRunAt')}>{time.format(new Date(task.nextRunAt))}</Descriptions.Item>
        )}
        <Descriptions.Item label={t('tasks.detail.createdAt')}>{time.format(new Date(task.createdAt))}</Descriptions.Item>
      </Descriptions>

      <div>
        <div className="page-heading">
          <Typography.Text strong>{t('tasks.detail.progress')}</Typography.Text>
          <Typography.Text type="secondary">
            {t('tasks.detail.shards', { done: p.shardsDone, total: p.shardsTotal })}
            {live && ` · ${t('tasks.detail.live')}`}
          </Typography.Text>
        </div>
        <Progress
          percent={percent}
          format={(pct) => `${pct ?? 0}%`}
          status={task.status === 'FAILED' || task.status === 'CANCELLED' ? 'exception' : live ? 'active' : undefined}
        />
      </div>

      <Row gutter={[12, 12]}>
        {COUNTS.map((field) => (
          <Col span={8} key={field}>
            <Statistic title={t(`tasks.detail.${field}`)} value={formatCount(p[field], locale)} />
          </Col>
        ))}
      </Row>

      <TaskFunnel appId={task.appId} taskId={task.id} createdAt={task.createdAt} refreshKey={String(p.sent) + String(p.delivered)} />
    </Space>
  );
}
