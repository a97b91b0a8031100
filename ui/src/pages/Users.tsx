// Users: find a user by id or by address (reverse lookup: a family phone may belong to several
// users), then see the user's identities, tags, attributes and message timeline.
import { ArrowLeftOutlined, SearchOutlined } from '@ant-design/icons';
import {
  Alert,
  Button,
  Card,
  Col,
  Descriptions,
  Empty,
  Form,
  Input,
  Row,
  Segmented,
  Select,
  Space,
  Spin,
  Table,
  Tag,
  Timeline,
  Typography,
} from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useQuery } from 'urql';
import { IdentityOwnersQuery, UserQuery } from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import { CHANNELS, type Channel, type DeliveryStatus, type Role, type UserSummary } from '../graphql/types';
import { maskAddress } from '../lib/mask';
import { canOperate } from '../lib/roles';
import { UserImport } from './UserImport';

type Mode = 'id' | 'address';

interface AddressSearch {
  channel: Channel;
  address: string;
}

interface UsersProps {
  appId: string;
  role: Role;
  /** The user shown (from the route), or null for the search. */
  userId: string | null;
  onOpenUser: (id: string | null) => void;
}

export function Users({ appId, role, userId, onOpenUser }: UsersProps) {
  const { t } = useTranslation();
  const [mode, setMode] = useState<Mode>('id');
  const [search, setSearch] = useState<AddressSearch | null>(null);

  return (
    <Space direction="vertical" size="large" className="page">
      <div className="page-heading">
        <div>
          <Typography.Title level={3}>{t('users.title')}</Typography.Title>
          <Typography.Text type="secondary">{t('users.subtitle')}</Typography.Text>
        </div>
        {canOperate(role) && <UserImport appId={appId} />}
      </div>

      <Card size="small">
        <Space direction="vertical" className="page">
          <Segmented<Mode>
            value={mode}
            onChange={setMode}
            options={[
              { value: 'id', label: t('users.byId') },
              { value: 'address', label: t('users.byAddress') },
            ]}
          />
          {mode === 'id' ? (
            <Form
              layout="inline"
              key={`id-${userId ?? ''}`}
              initialValues={{ id: userId ?? '' }}
              onFinish={(v: { id: string }) => onOpenUser(v.id.trim())}
            >
              <Form.Item
                name="id"
                label={t('users.userId')}
                rules={[{ required: true, whitespace: true, message: t('users.userIdRequired') }]}
              >
                <Input className="search-input" allowClear />
              </Form.Item>
              <Button type="primary" htmlType="submit" icon={<SearchOutlined />}>
                {t('users.search')}
              </Button>
            </Form>
          ) : (
            <Form
              layout="inline"
              initialValues={search ?? { channel: 'SMS', address: '' }}
              onFinish={(v: AddressSearch) => {
                setSearch({ channel: v.channel, address: v.address.trim() });
                onOpenUser(null);
              }}
            >
              <Form.Item name="channel" label={t('users.channel')}>
                <Select<Channel>
                  className="channel-select"
                  options={CHANNELS.map((c) => ({ value: c, label: t(`channel.${c}`) }))}
                />
              </Form.Item>
              <Form.Item
                name="address"
                label={t('users.address')}
                rules={[{ required: true, whitespace: true, message: t('users.addressRequired') }]}
              >
                <Input className="search-input" allowClear placeholder="+8613800000000" />
              </Form.Item>
              <Button type="primary" htmlType="submit" icon={<SearchOutlined />}>
                {t('users.search')}
              </Button>
            </Form>
          )}
        </Space>
      </Card>

      {userId ? (
        <>
          {search && (
            <Button icon={<ArrowLeftOutlined />} onClick={() => onOpenUser(null)} className="back-button">
              {t('users.back')}
            </Button>
          )}
          <UserDetailView key={`${appId}/${userId}`} appId={appId} userId={userId} />
        </>
      ) : search ? (
        <Owners key={`${appId}/${search.channel}/${search.address}`} appId={appId} search={search} onOpenUser={onOpenUser} />
      ) : (
        <Empty description={t('users.prompt')} />
      )}
    </Space>
  );
}

function Owners({ appId, search, onOpenUser }: { appId: string; search: AddressSearch; onOpenUser: (id: string) => void }) {
  const { t } = useTranslation();
  const [{ data, fetching, error }, refetch] = useQuery({
    query: IdentityOwnersQuery,
    variables: { appId, channel: search.channel, address: search.address },
    requestPolicy: 'network-only',
  });

  if (error) {
    return (
      <Alert
        type="error"
        showIcon
        message={t(`error.${errorCode(error)}`)}
        action={<Button size="small" onClick={() => refetch({ requestPolicy: 'network-only' })}>{t('error.retry')}</Button>}
      />
    );
  }

  const columns: ColumnsType<UserSummary> = [
    {
      key: 'id',
      title: t('users.column.id'),
      render: (_, u) => <Typography.Link onClick={() => onOpenUser(u.id)}>{u.id}</Typography.Link>,
    },
    {
      key: 'identities',
      title: t('users.column.identities'),
      render: (_, u) => (
        <Space size={[4, 4]} wrap>
          {u.identities.map((i) => (
            <Tag key={`${i.channel}/${i.address}`}>
              {t(`channel.${i.channel}`)}: {maskAddress(i.channel, i.address)}
            </Tag>
          ))}
        </Space>
      ),
    },
    {
      key: 'tags',
      title: t('users.column.tags'),
      render: (_, u) => (
        <Space size={[4, 4]} wrap>
          {u.tags.map((tag) => (
            <Tag color="blue" key={tag}>
              {tag}
            </Tag>
          ))}
        </Space>
      ),
    },
  ];

  return (
    <Card size="small" title={t('users.owners')}>
      <Table<UserSummary>
        rowKey="id"
        columns={columns}
        dataSource={data?.identityOwners ?? []}
        loading={fetching}
        pagination={false}
        size="middle"
        locale={{ emptyText: t('users.noOwners') }}
      />
    </Card>
  );
}

const STATUS_COLORS: Record<DeliveryStatus, string> = {
  QUEUED: 'gray',
  SENT: 'blue',
  DELIVERED: 'green',
  DISPLAYED: 'green',
  CLICKED: 'green',
  FAILED: 'red',
  SUPPRESSED: 'orange',
  REDUNDANT: 'gray',
};

function UserDetailView({ appId, userId }: { appId: string; userId: string }) {
  const { t, i18n } = useTranslation();
  const [{ data, fetching, error }, refetch] = useQuery({
    query: UserQuery,
    variables: { appId, id: userId },
    requestPolicy: 'network-only',
  });

  if (fetching && !data) {
    return <Spin className="drawer-spin" />;
  }
  if (error) {
    return (
      <Alert
        type="error"
        showIcon
        message={t(`error.${errorCode(error)}`)}
        action={<Button size="small" onClick={() => refetch({ requestPolicy: 'network-only' })}>{t('error.retry')}</Button>}
      />
    );
  }
  const user = data?.user;
  if (!user) {
    return <Empty description={t('users.notFound', { id: userId })} />;
  }

  const time = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'medium' });
  const attributes = user.attributes && Object.keys(user.attributes).length > 0 ? user.attributes : null;
  // The API answers newest first; sort anyway so the timeline never depends on it.
  const messages = user.messages.edges
    .map((e) => e.node)
    .sort((a, b) => Date.parse(b.sentAt) - Date.parse(a.sentAt));

  return (
    <Row gutter={[16, 16]}>
      <Col xs={24} lg={10}>
        <Space direction="vertical" size="middle" className="page">
          <Card size="small" title={`${t('users.column.id')}: ${user.id}`}>
            <Descriptions size="small" column={1} title={t('users.identities')}>
              {user.identities.length === 0 && (
                <Descriptions.Item label="—">{t('users.noIdentities')}</Descriptions.Item>
              )}
              {user.identities.map((i) => (
                <Descriptions.Item key={`${i.channel}/${i.address}`} label={t(`channel.${i.channel}`)}>
                  <Typography.Text copyable>{i.address}</Typography.Text>
                </Descriptions.Item>
              ))}
            </Descriptions>
            <Typography.Title level={5}>{t('users.tags')}</Typography.Title>
            {user.tags.length ? (
              <Space size={[4, 4]} wrap>
                {user.tags.map((tag) => (
                  <Tag color="blue" key={tag}>
                    {tag}
                  </Tag>
                ))}
              </Space>
            ) : (
              <Typography.Text type="secondary">{t('users.noTags')}</Typography.Text>
            )}
          </Card>
          <Card size="small" title={t('users.attributes')}>
            {attributes ? (
              <pre className="json-block">{JSON.stringify(attributes, null, 2)}</pre>
            ) : (
              <Typography.Text type="secondary">{t('users.noAttributes')}</Typography.Text>
            )}
          </Card>
        </Space>
      </Col>
      <Col xs={24} lg={14}>
        <Card size="small" title={t('users.timeline')}>
          {messages.length === 0 ? (
            <Empty description={t('users.noMessages')} />
          ) : (
            <Timeline
              items={messages.map((m) => ({
                key: m.id,
                color: STATUS_COLORS[m.status],
                children: (
                  <div className="timeline-item">
                    <Space size={6} wrap>
                      <Typography.Text strong>{time.format(new Date(m.sentAt))}</Typography.Text>
                      <Tag>{t(`channel.${m.channel}`)}</Tag>
                      <Tag color={STATUS_COLORS[m.status]}>{t(`status.${m.status}`)}</Tag>
                      <Typography.Text type="secondary">{m.address}</Typography.Text>
                    </Space>
                    {m.title && <div className="timeline-title">{m.title}</div>}
                    {m.body && <Typography.Paragraph className="timeline-body">{m.body}</Typography.Paragraph>}
                    <Typography.Text type="secondary" className="timeline-id">
                      {m.id}
                    </Typography.Text>
                  </div>
                ),
              }))}
            />
          )}
        </Card>
      </Col>
    </Row>
  );
}
