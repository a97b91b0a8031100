// The browser tests, in order: each gets the page (signed in after the first) and a shared
// state, and leaves its page for the screenshot run.mjs takes. `required` stops the run when
// a test that later ones build on fails.
import { expect } from './expect.mjs';

/** pick chooses an option of the antd Select labelled `label`, typing to filter it. */
async function pick(page, label, option, { search = true } = {}) {
  const box = page.getByRole('combobox', { name: label, exact: true });
  await box.click();
  if (search) {
    await box.fill(option);
  }
  await page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option', { hasText: option }).first().click();
}

async function go(page, hash) {
  await page.evaluate((h) => {
    window.location.hash = h;
  }, hash);
}

/** Waits for the success message antd shows with the given text. */
async function toast(page, text) {
  await page.locator('.ant-message-success', { hasText: text }).first().waitFor();
}

export const tests = [
  {
    name: 'signs in',
    slug: 'sign-in',
    required: true,
    async run(page, state) {
      // English first; a later test switches to zh-CN.
      await page.addInitScript(() => {
        if (!sessionStorage.getItem('e2e.init')) {
          sessionStorage.setItem('e2e.init', '1');
          localStorage.setItem('herald.language', 'en');
        }
      });
      await page.goto('/');
      await page.getByLabel('Email').fill(state.admin.email);
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Wrong email or password' }).waitFor();
      await page.getByLabel('Password').fill(state.admin.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      expect(await page.locator('.app-switcher').innerText()).toContain('Demo');
    },
  },
  {
    name: 'creates a template, its form showing mistakes on their fields',
    slug: 'template',
    required: true,
    async run(page, state) {
      state.template = `e2e-otp-${state.id}`;
      await go(page, '#/templates');
      await page.getByRole('button', { name: 'New template' }).click();
      await page.getByLabel('Name', { exact: true }).fill(state.template);
      // An undeclared variable is refused before anything is sent, on the body field.
      await page.getByLabel('Body').fill('Your code is {{code}}');
      await page.getByRole('button', { name: 'Create template' }).click();
      await page.getByText('Line 1, column 14: variable "code" is not declared').waitFor();
      await page.getByRole('button', { name: 'Add a variable' }).click();
      await page.getByLabel('Variable name').fill('code');
      await page.getByText('1 SMS (GSM-7').waitFor();
      await page.getByRole('button', { name: 'Create template' }).click();
      await toast(page, `Template "${state.template}" v1 saved`);
      await page.getByRole('tab', { name: 'Preview' }).waitFor();
      await page.getByLabel('code').fill('246810');
      await page.locator('.ant-tabs-tabpane-active').getByRole('button', { name: 'Preview' }).click();
      await page.locator('.sms-bubble', { hasText: 'Your code is 246810' }).waitFor();
    },
  },
  {
    name: 'creates a rule with the route builder and plans it for a user',
    slug: 'rule',
    required: true,
    async run(page, state) {
      state.rule = `e2e-rule-${state.id}`;
      await go(page, '#/rules');
      await page.getByRole('button', { name: 'New rule' }).click();
      await page.getByLabel('Name', { exact: true }).fill(state.rule);
      // No channel yet: the builder says so on the route's channel field.
      await page.getByRole('button', { name: 'Create rule' }).click();
      await page.getByText('Pick at least one channel').waitFor();
      await pick(page, 'Add a channel', 'SMS', { search: false });
      await page.locator('.route-preview').getByText('SMS').waitFor();
      await page.getByRole('button', { name: 'Create rule' }).click();
      await toast(page, `Rule "${state.rule}" v1 saved`);
      await page.getByRole('tab', { name: 'One user' }).click();
      await page.getByLabel('User id').fill('alice');
      await page.getByRole('button', { name: 'Plan' }).click();
      await page.locator('.route-plan').getByText('+8613800138001').waitFor();
    },
  },
  {
    name: 'creates a task and watches its progress reach 100%',
    slug: 'task-progress',
    required: true,
    timeout: 120_000,
    async run(page, state) {
      state.task = `e2e-task-${state.id}`;
      await go(page, '#/tasks');
      await page.getByRole('button', { name: 'New task' }).click();
      await page.getByLabel('Name', { exact: true }).fill(state.task);
      await pick(page, 'Template', state.template);
      await pick(page, 'Routing rule', state.rule);
      await page.getByLabel('code').fill('123456');
      // A cron schedule shows its next runs before anything is sent.
      await page.getByText('Recurring (cron)').click();
      await page.getByLabel('Cron expression').fill('0 9 * * 1-5');
      await page.getByText('Next runs').waitFor();
      await page.getByLabel('Cron expression').fill('0 25 * * *');
      await page.getByText('A value is out of range or unreadable').waitFor();
      await page.getByText('Now', { exact: true }).click();
      await page.getByRole('button', { name: 'Create task' }).click();
      await toast(page, `Task "${state.task}" created`);
      const drawer = page.locator('.ant-drawer-content');
      await drawer.getByText(state.task).first().waitFor();
      await drawer.locator('.ant-progress-text', { hasText: '100%' }).first().waitFor({ timeout: 90_000 });
      await drawer.getByText('Completed').waitFor({ timeout: 30_000 });
      await drawer.getByText('Funnel by channel').waitFor();
    },
  },
  {
    name: "finds the user's timeline",
    slug: 'user-timeline',
    async run(page) {
      await page.keyboard.press('Escape');
      await go(page, '#/users');
      await page.getByRole('textbox', { name: 'User id' }).fill('alice');
      await page.getByRole('button', { name: 'Search' }).click();
      await page.getByText('Messages (latest 20)').waitFor();
      await page.getByText('Your code is 123456').first().waitFor({ timeout: 30_000 });
    },
  },
  {
    name: 'shows the dashboard, reports and channels',
    slug: 'dashboard',
    async run(page) {
      await go(page, '#/dashboard');
      await page.getByRole('img', { name: 'Last 30 days', exact: true }).waitFor();
      await go(page, '#/channels');
      // run.mjs caps aliyun (the simulated SMS vendor) at 200 messages per second.
      await page.locator('.ant-table-row', { hasText: 'aliyun' }).getByText('200 per second').waitFor();
      await go(page, '#/reports');
      await page.getByRole('button', { name: 'Run' }).click();
      await page.getByRole('button', { name: 'Download CSV' }).waitFor();
      await go(page, '#/dashboard');
      await page.getByRole('img', { name: 'Last 30 days', exact: true }).waitFor();
    },
  },
  {
    name: 'opens the API explorer, bundled, behind sign-in',
    slug: 'explorer',
    async run(page, state) {
      const outside = [];
      const watch = (req) => {
        if (!req.url().startsWith(state.baseURL) && !req.url().startsWith('ws://127.0.0.1') && !req.url().startsWith('data:')) {
          outside.push(req.url());
        }
      };
      page.on('request', watch);
      await go(page, '#/explorer');
      await page.locator('.graphiql-container').waitFor({ timeout: 30_000 });
      page.off('request', watch);
      expect(outside).toEqual([]);
      // Without a session the schema is not given out.
      const res = await fetch(`${state.baseURL}/console/schema.graphql`);
      expect(res.status).toBe(401);
    },
  },
  {
    name: 'switches the language to zh-CN',
    slug: 'language',
    async run(page) {
      await go(page, '#/dashboard');
      await page.getByText('中文', { exact: true }).click();
      await page.getByRole('heading', { name: '概览' }).waitFor();
      await page.getByRole('menuitem', { name: '路由规则' }).waitFor();
      expect(await page.evaluate(() => localStorage.getItem('herald.language'))).toBe('zh-CN');
    },
  },
];
