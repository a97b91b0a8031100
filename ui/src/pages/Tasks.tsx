// Tasks: the app's send tasks, filtered by status and paged by cursor ("load more"), with a
// detail drawer that follows a running task's progress.
import { PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Select, Space, Table, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import type { CombinedError } from '@urql/core';
import { useCallback, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useClient } from 'urql';
import { TasksQuery } from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import { TASK_STATUSES, type Edge, type Role, type TaskRow, type TaskStatus } from '../graphql/types';
import { mergeEdges } from '../lib/paging';
import { canOperate } from '../lib/roles';
import { TaskCreate } from './TaskCreate';
import { TaskDrawer } from './TaskDrawer';

const PAGE_SIZE = 20;

export const TASK_STATUS_COLORS: Record<TaskStatus, string> = {
  DRAFT: 'default',
  SCHEDULED: 'purple',
  RUNNING: 'processing',
  PAUSED: 'warning',
  COMPLETED: 'success',
  CANCELLED: 'default',
  FAILED: 'error',
};

interface TasksProps {
  appId: string;
  role: Role;
  /** Herald's time zone, in which cron schedules run. */
  timeZone: string;
  /** The task whose drawer is open (from the route), or null. */
  openTaskId: string | null;
  onOpenTask: (id: string | null) => void;
}

interface ListState {
  edges: Edge<TaskRow>[];
  endCursor: string | null;
  hasNextPage: boolean;
  loading: boolean;
  error: CombinedError | null;
}

const EMPTY: ListState = { edges: [], endCursor: null, hasNextPage: false, loading: true, error: null };

export function Tasks({ appId, role, timeZone, openTaskId, onOpenTask }: TasksProps) {
  const { t, i18n } = useTranslation();
  const client = useClient();
  const [status, setStatus] = useState<TaskStatus | null>(null);
  const [list, setList] = useState<ListState>(EMPTY);
  const [creating, setCreating] = useState(false);
  // Answers to an older filter (or a reload) are dropped.
  const generation = useRef(0);

  const load = useCallback(
    async (after: string | null) => {
      const gen = after === null ? ++generation.current : generation.current;
      setList((s) => (after === null ? EMPTY : { ...s, loading: true, error: null }));
      const result = await client
        .query(TasksQuery, { appId, status, first: PAGE_SIZE, after }, { requestPolicy: 'network-only' })
        .toPromise();
      if (gen !== generation.current) {
        return;
      }
      setList((s) => {
        if (result.error || !result.data) {
          return { ...s, loading: false, error: result.error ?? null };
        }
        const page = result.data.tasks;
        return {
          edges: after === null ? page.edges : mergeEdges(s.edges, page.edges),
          endCursor: page.pageInfo.endCursor,
          hasNextPage: page.pageInfo.hasNextPage,
          loading: false,
          error: null,
        };
      });
    },
    [client, appId, status],
  );

  useEffect(() => {
    void load(null);
  }, [load]);

  const time = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'medium' });

  const columns: ColumnsType<Edge<TaskRow>> = [
    {
      key: 'name',
      title: t('tasks.column.name'),
      render: (_, { node }) => (
        <Typography.Link onClick={() => onOpenTask(node.id)}>{node.name || node.id}</Typography.Link>
      ),
    },
    { key: 'kind', title: t('tasks.column.kind'), render: (_, { node }) => t(`taskKind.${node.kind}`) },
    { key: 'lane', title: t('tasks.column.lane'), render: (_, { node }) => t(`lane.${node.lane}`) },
    {
      key: 'status',
      title: t('tasks.column.status'),
      render: (_, { node }) => <Tag color={TASK_STATUS_COLORS[node.status]}>{t(`taskStatus.${node.status}`)}</Tag>,
    },
    {
      key: 'createdAt',
      title: t('tasks.column.createdAt'),
      render: (_, { node }) => time.format(new Date(node.createdAt)),
    },
  ];

  const firstLoad = list.loading && list.edges.length === 0;

  return (
    <Space direction="vertical" size="large" className="page">
      <div className="page-heading">
        <div>
          <Typography.Title level={3}>{t('tasks.title')}</Typography.Title>
          <Typography.Text type="secondary">{t('tasks.subtitle')}</Typography.Text>
        </div>
        <Space>
          <Select<TaskStatus | 'ALL'>
            className="status-filter"
            aria-label={t('tasks.filterStatus')}
            value={status ?? 'ALL'}
            onChange={(v) => setStatus(v === 'ALL' ? null : v)}
            options={[
              { value: 'ALL', label: t('tasks.allStatuses') },
              ...TASK_STATUSES.map((s) => ({ value: s, label: t(`taskStatus.${s}`) })),
            ]}
          />
          <Button icon={<ReloadOutlined />} onClick={() => void load(null)} loading={list.loading && !firstLoad}>
            {t('common.refresh')}
          </Button>
          {canOperate(role) && (
            <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
              {t('taskForm.open')}
            </Button>
          )}
        </Space>
      </div>

      {list.error && (
        <Alert
          type="error"
          showIcon
          message={t(`error.${errorCode(list.error)}`)}
          action={
            <Button size="small" onClick={() => void load(list.edges.length ? list.endCursor : null)}>
              {t('error.retry')}
            </Button>
          }
        />
      )}

      <Card size="small">
        <Table<Edge<TaskRow>>
          rowKey={(e) => e.node.id}
          columns={columns}
          dataSource={list.edges}
          loading={firstLoad}
          pagination={false}
          size="middle"
          locale={{ emptyText: t('tasks.empty') }}
          onRow={(e) => ({ onDoubleClick: () => onOpenTask(e.node.id) })}
        />
        <div className="load-more">
          {list.hasNextPage ? (
            <Button onClick={() => void load(list.endCursor)} loading={list.loading && !firstLoad}>
              {t('common.loadMore')}
            </Button>
          ) : (
            list.edges.length > 0 && <Typography.Text type="secondary">{t('common.allLoaded')}</Typography.Text>
          )}
        </div>
      </Card>

      {canOperate(role) && (
        <TaskCreate
          appId={appId}
          timeZone={timeZone}
          open={creating}
          onClose={() => setCreating(false)}
          onCreated={(task) => {
            setCreating(false);
            void load(null);
            onOpenTask(task.id);
          }}
        />
      )}

      <TaskDrawer
        taskId={openTaskId}
        role={role}
        onClose={() => onOpenTask(null)}
        onChanged={(task) =>
          setList((s) => ({
            ...s,
            edges: s.edges.map((e) => (e.node.id === task.id ? { ...e, node: { ...e.node, status: task.status } } : e)),
          }))
        }
      />
    </Space>
  );
}
