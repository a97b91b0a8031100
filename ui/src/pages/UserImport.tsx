// Importing users from a CSV file: the file, the upload's progress, then Herald's report —
// rows read, users imported, and each row that failed with its column and reason.
import { InboxOutlined, UploadOutlined } from '@ant-design/icons';
import { Alert, Button, Descriptions, Modal, Progress, Space, Table, Typography, Upload } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import type { ErrorCode, ImportReport } from '../graphql/types';
import { formatCount } from '../lib/format';
import { MAX_UPLOAD_BYTES, uploadUsers } from '../lib/upload';

const EXAMPLE = 'id,attr.name,attr.city,tags,SMS,EMAIL\nc001,张三,杭州,vip|gold,13800138000,zhang@example.com';

export function UserImport({ appId }: { appId: string }) {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  return (
    <>
      <Button icon={<UploadOutlined />} onClick={() => setOpen(true)}>
        {t('userImport.open')}
      </Button>
      <Modal open={open} title={t('userImport.title')} footer={null} width={720} onCancel={() => setOpen(false)} destroyOnHidden>
        <ImportBody appId={appId} />
      </Modal>
    </>
  );
}

function ImportBody({ appId }: { appId: string }) {
  const { t, i18n } = useTranslation();
  const [file, setFile] = useState<File | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [report, setReport] = useState<ImportReport | null>(null);
  const [failure, setFailure] = useState<{ code: ErrorCode; message: string | null } | null>(null);
  const busy = progress !== null && !report && !failure;
  const count = (n: number) => formatCount(n, i18n.language);

  const start = async () => {
    if (!file) {
      return;
    }
    setReport(null);
    setFailure(null);
    setProgress(0);
    const answer = await uploadUsers(appId, file, setProgress);
    setProgress(1);
    if (answer.ok) {
      setReport(answer.report);
    } else {
      setFailure({ code: answer.code, message: answer.message });
    }
  };

  return (
    <Space direction="vertical" className="page">
      <Typography.Paragraph type="secondary">{t('userImport.help')}</Typography.Paragraph>
      <pre className="csv-example">{EXAMPLE}</pre>
      <Upload.Dragger
        accept=".csv,text/csv"
        maxCount={1}
        disabled={busy}
        beforeUpload={(f) => {
          if (f.size > MAX_UPLOAD_BYTES) {
            setFailure({ code: 'BAD_INPUT', message: t('userImport.tooLarge') });
            return Upload.LIST_IGNORE;
          }
          setFile(f);
          setReport(null);
          setFailure(null);
          setProgress(null);
          return false; // uploaded by the button, with progress
        }}
        onRemove={() => setFile(null)}
        fileList={file ? [{ uid: 'csv', name: file.name, size: file.size, status: 'done' }] : []}
      >
        <p className="ant-upload-drag-icon">
          <InboxOutlined />
        </p>
        <p className="ant-upload-text">{t('userImport.drop')}</p>
      </Upload.Dragger>
      <Button type="primary" onClick={() => void start()} disabled={!file} loading={busy}>
        {t('userImport.start')}
      </Button>
      {progress !== null && (
        <div>
          <Typography.Text type="secondary">{progress < 1 ? t('userImport.uploading') : report || failure ? t('userImport.done') : t('userImport.importing')}</Typography.Text>
          <Progress
            percent={Math.round(progress * 100)}
            status={failure ? 'exception' : report ? (report.failed > 0 ? 'normal' : 'success') : 'active'}
            aria-label={t('userImport.progress')}
          />
        </div>
      )}
      {failure && (
        <Alert type="error" showIcon message={t(`error.${failure.code}`)} description={failure.message ?? undefined} role="alert" />
      )}
      {report && (
        <Space direction="vertical" className="page">
          <Descriptions size="small" bordered column={2}>
            <Descriptions.Item label={t('userImport.rows')}>{count(report.rows)}</Descriptions.Item>
            <Descriptions.Item label={t('userImport.imported')}>{count(report.imported)}</Descriptions.Item>
            <Descriptions.Item label={t('userImport.failed')}>{count(report.failed)}</Descriptions.Item>
            <Descriptions.Item label={t('userImport.encoding')}>{report.encoding}</Descriptions.Item>
          </Descriptions>
          {report.stopped && <Alert type="warning" showIcon message={t('userImport.stopped')} />}
          {report.truncated && <Alert type="info" showIcon message={t('userImport.truncated', { shown: count(report.errors.length) })} />}
          {report.errors.length > 0 && (
            <Table
              rowKey={(e) => `${e.row}/${e.column ?? ''}`}
              size="small"
              dataSource={report.errors}
              pagination={{ pageSize: 10, hideOnSinglePage: true }}
              columns={[
                { key: 'row', title: t('userImport.row'), render: (_, e) => e.row, width: 80 },
                { key: 'column', title: t('userImport.column'), render: (_, e) => e.column ?? '—', width: 140 },
                { key: 'reason', title: t('userImport.reason'), render: (_, e) => e.reason },
              ]}
            />
          )}
        </Space>
      )}
    </Space>
  );
}
