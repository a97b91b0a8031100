// A template's versions, newest first, and the line diff between any two of them.
import { Alert, Card, Empty, List, Select, Space, Spin, Typography } from 'antd';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useClient } from 'urql';
import { TemplateVersionQuery } from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import type { ErrorCode, Template } from '../graphql/types';
import { diffLines, versionText } from '../lib/text';

/** The most versions the history reads back. */
const MAX_VERSIONS = 30;

export function TemplateHistory({ template }: { template: Template }) {
  const { t, i18n } = useTranslation();
  const client = useClient();
  const [versions, setVersions] = useState<Template[] | null>(null);
  const [failure, setFailure] = useState<ErrorCode | null>(null);
  const latest = template.version;
  const [from, setFrom] = useState(Math.max(1, latest - 1));
  const [to, setTo] = useState(latest);

  useEffect(() => {
    let stale = false;
    const wanted = [];
    for (let v = latest; v >= Math.max(1, latest - MAX_VERSIONS + 1); v--) {
      wanted.push(v);
    }
    void Promise.all(wanted.map((version) => client.query(TemplateVersionQuery, { id: template.id, version }).toPromise())).then((results) => {
      if (stale) {
        return;
      }
      const err = results.find((r) => r.error)?.error;
      setFailure(err ? errorCode(err) : null);
      setVersions(results.map((r) => r.data?.template).filter((x): x is Template => !!x));
    });
    return () => {
      stale = true;
    };
  }, [client, template.id, latest]);

  const byVersion = useMemo(() => new Map((versions ?? []).map((v) => [v.version, v] as const)), [versions]);
  const diff = useMemo(() => {
    const a = byVersion.get(from);
    const b = byVersion.get(to);
    return a && b ? diffLines(versionText(a), versionText(b)) : null;
  }, [byVersion, from, to]);
  const time = new Intl.DateTimeFormat(i18n.language, { dateStyle: 'medium', timeStyle: 'short' });

  if (!versions) {
    return <Spin />;
  }
  const options = versions.map((v) => ({ value: v.version, label: `v${v.version}` }));
  return (
    <Space direction="vertical" className="page">
      {failure && <Alert type="error" showIcon message={t(`error.${failure}`)} />}
      <List
        size="small"
        dataSource={versions}
        renderItem={(v) => (
          <List.Item>
            <Typography.Text strong>v{v.version}</Typography.Text>
            <Typography.Text type="secondary">{time.format(new Date(v.createdAt))}</Typography.Text>
          </List.Item>
        )}
      />
      {versions.length < 2 ? (
        <Empty description={t('templateHistory.onlyOne')} />
      ) : (
        <Card
          size="small"
          title={
            <Space>
              {t('templateHistory.compare')}
              <Select size="small" value={from} onChange={setFrom} options={options} aria-label={t('templateHistory.from')} />
              →
              <Select size="small" value={to} onChange={setTo} options={options} aria-label={t('templateHistory.to')} />
            </Space>
          }
        >
          {diff && diff.every((l) => l.kind === 'same') ? (
            <Typography.Text type="secondary">{t('templateHistory.same')}</Typography.Text>
          ) : (
            <pre className="diff" aria-label={t('templateHistory.diff')}>
              {diff?.map((l, i) => (
                <div key={i} className={`diff-${l.kind}`}>
                  {l.kind === 'added' ? '+ ' : l.kind === 'removed' ? '- ' : '  '}
                  {l.text}
                </div>
              ))}
            </pre>
          )}
        </Card>
      )}
    </Space>
  );
}
