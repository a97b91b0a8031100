// The browser tests, in order: each gets the page (signed in after the first) and a shared
// state, and leaves its page for the screenshot run.mjs takes. `required` stops the run when
// a test that later ones build on fails.
import { expect } from './expect.mjs';

/** pick chooses an option of the antd Select labelled `label`, typing to filter it. */
async function pick(page, label, option, { search = true } = {}) {
  // A required field's name starts with the "*" antd draws before its label.
  const name = new RegExp(`^(\\*\\s*)?${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  const box = page.getByRole('combobox', { name });
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
    always: true, // E2E_ONLY still signs in first
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
      await state.snap('builder');
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
    timeout: 30_000, // the progress waits below have their own, longer bounds
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
      await state.snap('cron');
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
      state.taskId = decodeURIComponent(new URL(page.url()).hash.split('/')[2] ?? '');
      expect(state.taskId !== '').toBe(true);
    },
  },
  {
    name: 'follows task progress over the websocket with the session cookie',
    slug: 'subscription',
    async run(page, state) {
      // What the drawer's subscription does, by hand: graphql-transport-ws on the same origin,
      // authenticated by nothing but the session cookie.
      const got = await page.evaluate(
        (id) =>
          new Promise((resolve, reject) => {
            const ws = new WebSocket(`ws://${location.host}/graphql`, 'graphql-transport-ws');
            const timer = setTimeout(() => reject(new Error('no progress within 10s')), 10_000);
            ws.onmessage = (ev) => {
              const msg = JSON.parse(ev.data);
              if (msg.type === 'connection_ack') {
                ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription P($id: ID!) { taskProgress(id: $id) { shardsDone shardsTotal sent } }', variables: { id } } }));
              } else if (msg.type === 'next' || msg.type === 'error') {
                clearTimeout(timer);
                ws.close();
                resolve(msg);
              }
            };
            ws.onopen = () => ws.send(JSON.stringify({ type: 'connection_init', payload: {} }));
            ws.onerror = () => reject(new Error('websocket error'));
          }),
        state.taskId,
      );
      expect(got.type).toBe('next');
      expect(got.payload.data.taskProgress.shardsDone).toBe(got.payload.data.taskProgress.shardsTotal);
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
    name: 'imports users from a CSV file with the per-row report',
    slug: 'user-import',
    async run(page, state) {
      await go(page, '#/users');
      await page.getByRole('button', { name: 'Import CSV' }).click();
      const csv = `id,attr.name,tags,SMS\ne2e-${state.id}-1,Ann,e2e,13800138555\ne2e-${state.id}-2,Bo,e2e,not-a-phone\n`;
      await page.locator('.ant-modal input[type=file]').setInputFiles({ name: 'users.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
      await page.getByRole('dialog').getByRole('button', { name: 'Import' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByText('Users imported').waitFor();
      expect(await dialog.locator('.ant-descriptions').innerText()).toContain('Rows failed\t1');
      await dialog.locator('.ant-table-row', { hasText: 'SMS' }).waitFor();
    },
  },
  {
    name: 'saves a new template version and shows the diff',
    slug: 'template-history',
    async run(page, state) {
      await go(page, '#/templates');
      await page.locator('.ant-table-row', { hasText: state.template }).click();
      await page.getByRole('tab', { name: 'Edit' }).click();
      await page.getByLabel('Body').fill('Your code is {{code}}.\nIt expires in 5 minutes.');
      await page.getByRole('button', { name: 'Save as a new version' }).click();
      await toast(page, `Template "${state.template}" v2 saved`);
      await page.getByRole('tab', { name: 'History' }).click();
      await page.locator('.diff-removed', { hasText: 'body: Your code is {{code}}' }).waitFor();
      await page.locator('.diff-added', { hasText: 'body: It expires in 5 minutes.' }).waitFor();
    },
  },
  {
    name: 'creates a TAG audience, previewing its size and sample as it is typed',
    slug: 'audience',
    async run(page, state) {
      await go(page, '#/audiences');
      await page.getByRole('button', { name: 'New audience' }).click();
      await page.getByLabel('Name', { exact: true }).fill(`e2e-vip-${state.id}`);
      await page.getByLabel('Tag expression').fill('vip &&');
      await page.getByText('The expression is incomplete').waitFor();
      // The form only checks that a segment is there; previewAudience refuses this one, and
      // its message (with the position) shows on the field.
      await page.getByText('Segment', { exact: true }).click();
      await page.getByLabel('Segment expression').fill('city == "x" && len(city) > 1');
      await page.getByText('line 1, column 16: a comparison needs an attribute on one side').waitFor();
      await page.getByText('Correct the condition to see a preview').waitFor();
      await page.getByText('Tags', { exact: true }).click();
      await page.getByLabel('Tag expression').fill('vip && !churned');
      const preview = page.getByTestId('audience-preview');
      await preview.getByText('Users matching now: 1. A sample of them:').waitFor();
      await preview.locator('.ant-table-row', { hasText: 'alice' }).waitFor();
      await state.snap('preview');
      await page.getByRole('button', { name: 'Create audience' }).click();
      await toast(page, `Audience "e2e-vip-${state.id}" created`);
      await page.getByText('Users: 1. A sample of them:').waitFor();
      await page.locator('.ant-table-row', { hasText: 'alice' }).waitFor();
    },
  },
  {
    name: 'shows the dashboard, reports and channels',
    slug: 'dashboard',
    async run(page, state) {
      await go(page, '#/dashboard');
      await page.getByRole('img', { name: 'Last 30 days', exact: true }).waitFor();
      await go(page, '#/channels');
      // run.mjs caps aliyun (the simulated SMS vendor) at 200 messages per second.
      await page.locator('.ant-table-row', { hasText: 'aliyun' }).getByText('200 per second').waitFor();
      await go(page, '#/reports');
      await page.getByRole('button', { name: 'Run' }).click();
      await page.getByRole('button', { name: 'Download CSV' }).waitFor();
      await page.waitForTimeout(1200);
      await state.snap('reports');
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
      await page.locator('.graphiql-query-editor .CodeMirror').waitFor();
      const answer = page.locator('.graphiql-response').getByText(state.admin.email);
      // The run button does nothing until GraphiQL has set its editors up: press it until the
      // answer comes, a few times at most.
      for (let attempt = 1; ; attempt++) {
        await page.locator('.graphiql-execute-button').click();
        try {
          await answer.waitFor({ timeout: 5_000 });
          break;
        } catch (err) {
          if (attempt === 4) {
            throw err;
          }
        }
      }
      page.off('request', watch);
      expect(outside).toEqual([]);
      // Without a session the schema is not given out.
      const res = await fetch(`${state.baseURL}/console/schema.graphql`);
      expect(res.status).toBe(401);
    },
  },
  {
    name: 'keeps a form through an expired session',
    slug: 'expired-session',
    async run(page, state) {
      await go(page, '#/rules');
      await page.getByRole('button', { name: 'New rule' }).click();
      const name = `e2e-after-expiry-${state.id}`;
      await page.getByLabel('Name', { exact: true }).fill(name);
      await pick(page, 'Add a channel', 'SMS', { search: false });
      // The session ends behind the console's back.
      await page.context().clearCookies();
      await page.getByRole('button', { name: 'Create rule' }).click();
      const dialog = page.getByRole('dialog').filter({ hasText: 'Your session has expired' });
      await dialog.waitFor();
      await dialog.getByLabel('Password').fill(state.admin.password);
      await dialog.getByRole('button', { name: 'Sign in' }).click();
      await dialog.waitFor({ state: 'hidden' });
      // Nothing typed was lost: sending it again goes through.
      expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe(name);
      await page.getByRole('button', { name: 'Create rule' }).click();
      await toast(page, `Rule "${name}" v1 saved`);
    },
  },
  {
    name: 'shows a VIEWER no write action',
    slug: 'viewer',
    async run(page, state) {
      // As the administrator: a task that could still be paused or cancelled, and a VIEWER.
      const gql = async (query, variables = {}) => {
        const res = await page.request.post('/graphql', { data: { query, variables } });
        const body = await res.json();
        if (body.errors) {
          throw new Error(`${query}: ${body.errors.map((e) => e.message).join('; ')}`);
        }
        return body.data;
      };
      const { me } = await gql('query { me { apps { id name } } }');
      const app = me.apps.find((a) => a.name === 'Demo') ?? me.apps[0];
      const { templates } = await gql('query($app: ID!) { templates(appId: $app) { id name } }', { app: app.id });
      const { rules } = await gql('query($app: ID!) { rules(appId: $app) { id name } }', { app: app.id });
      const template = templates.find((x) => x.name === state.template) ?? templates[0];
      const rule = rules.find((x) => x.name === state.rule) ?? rules[0];
      const taskName = `e2e-later-${state.id}`;
      const { createTask } = await gql('mutation($in: TaskInput!) { createTask(input: $in) { id status } }', {
        in: {
          appId: app.id,
          name: taskName,
          kind: 'BROADCAST',
          templateId: template.id,
          ruleId: rule.id,
          variables: { code: '1' },
          startAt: new Date(Date.now() + 24 * 3600 * 1000).toISOString(),
        },
      });
      expect(createTask.status).toBe('SCHEDULED');
      // The administrator is shown the actions the VIEWER must not be.
      await go(page, `#/tasks/${createTask.id}`);
      await page.getByRole('heading', { name: taskName }).waitFor();
      await page.getByRole('button', { name: 'Pause', exact: true }).waitFor();
      await page.getByRole('button', { name: 'Cancel task' }).waitFor();
      const viewer = { email: `e2e-viewer-${state.id}@herald.test`, password: `viewer-${state.id}-password` };
      await gql('mutation($in: ConsoleUserInput!) { createConsoleUser(input: $in) { email role } }', {
        in: { ...viewer, role: 'VIEWER', appIds: [app.id] },
      });

      await page.context().clearCookies();
      await page.goto('/');
      await page.getByLabel('Email').fill(viewer.email);
      await page.getByLabel('Password').fill(viewer.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      const none = async (name, options = {}) => expect(await page.getByRole('button', { name, ...options }).count()).toBe(0);

      await go(page, '#/tasks');
      await page.locator('.ant-table-row', { hasText: taskName }).waitFor();
      await none('New task');
      await go(page, `#/tasks/${createTask.id}`);
      await page.getByRole('heading', { name: taskName }).waitFor();
      await none('Pause', { exact: true });
      await none('Cancel task');
      await state.snap('task');

      await go(page, '#/templates');
      await page.locator('.ant-table-row', { hasText: template.name }).click();
      await page.getByRole('tab', { name: 'Preview' }).waitFor();
      await none('New template');
      expect(await page.getByRole('tab', { name: 'Edit' }).count()).toBe(0);

      await go(page, '#/rules');
      await page.locator('.ant-table-row', { hasText: rule.name }).click();
      await page.getByRole('tab', { name: 'One user' }).waitFor();
      await none('New rule');
      expect(await page.getByRole('tab', { name: 'Edit' }).count()).toBe(0);

      await go(page, '#/audiences/new');
      await page.getByText('Pick an audience').waitFor();
      await none('New audience');
      await none('Create audience');
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
      await page.waitForTimeout(1500); // the charts' entry animation, for the screenshot
    },
  },
];
