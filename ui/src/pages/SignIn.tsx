// The sign-in page: email and password, answered by Herald's `login` mutation, which sets
// the session cookie.
import { LockOutlined, MailOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useMutation } from 'urql';
import { LoginMutation } from '../graphql/documents';
import { errorCode } from '../graphql/errors';
import type { ErrorCode, Viewer } from '../graphql/types';
import { LanguageSwitch } from '../layout/LanguageSwitch';

interface SignInProps {
  onSignedIn: (viewer: Viewer) => void;
  /**
   * Shown inside the console when the session has expired: just the form, with the email of
   * the expired session filled in, so the page behind it (and any form on it) is kept.
   */
  embedded?: { email: string | null };
}

interface SignInForm {
  email: string;
  password: string;
}

export function SignIn({ onSignedIn, embedded }: SignInProps) {
  const { t } = useTranslation();
  const [{ fetching }, login] = useMutation(LoginMutation);
  const [failure, setFailure] = useState<ErrorCode | null>(null);

  const submit = async (values: SignInForm) => {
    setFailure(null);
    const result = await login({ email: values.email.trim(), password: values.password });
    if (result.error) {
      setFailure(errorCode(result.error));
      return;
    }
    if (result.data) {
      onSignedIn(result.data.login);
    }
  };

  const body = (
    <>
      {failure && (
        <Alert className="signin-error" type="error" showIcon message={t(`error.${failure}`)} role="alert" />
      )}
      <Form<SignInForm>
        layout="vertical"
        requiredMark={false}
        onFinish={submit}
        disabled={fetching}
        initialValues={embedded?.email ? { email: embedded.email } : undefined}
      >
        <Form.Item
          name="email"
          label={t('signIn.email')}
          rules={[
            { required: true, message: t('signIn.emailRequired') },
            { type: 'email', message: t('signIn.emailInvalid') },
          ]}
        >
          <Input prefix={<MailOutlined />} autoComplete="username" autoFocus />
        </Form.Item>
        <Form.Item
          name="password"
          label={t('signIn.password')}
          rules={[{ required: true, message: t('signIn.passwordRequired') }]}
        >
          <Input.Password prefix={<LockOutlined />} autoComplete="current-password" />
        </Form.Item>
        <Button type="primary" htmlType="submit" block loading={fetching}>
          {t('signIn.submit')}
        </Button>
      </Form>
    </>
  );

  if (embedded) {
    return body;
  }

  return (
    <div className="signin-page">
      <div className="signin-language">
        <LanguageSwitch />
      </div>
      <Card className="signin-card">
        <Typography.Title level={3}>{t('signIn.title')}</Typography.Title>
        <Typography.Paragraph type="secondary">{t('signIn.subtitle')}</Typography.Paragraph>
        {body}
      </Card>
    </div>
  );
}
