// The console's texts. zh-CN is the default language; every key exists in every language
// (the type says so, and messages.test.ts checks it again at run time, placeholders too).

export const zhCN = {
  app: {
    title: 'Herald 消息中心',
    brand: 'Herald',
  },
  nav: {
    today: '今日概览',
  },
  language: {
    label: '语言',
    'zh-CN': '中文',
    en: 'English',
  },
  signIn: {
    title: '登录 Herald',
    subtitle: '多渠道消息中心控制台',
    email: '邮箱',
    emailRequired: '请输入邮箱',
    emailInvalid: '邮箱格式不正确',
    password: '密码',
    passwordRequired: '请输入密码',
    submit: '登录',
  },
  layout: {
    app: '应用',
    selectApp: '选择应用',
    noApps: '还没有可用的应用',
    signOut: '退出登录',
    role: {
      ADMIN: '管理员',
      OPERATOR: '运营',
      VIEWER: '只读',
    },
  },
  today: {
    title: '今日概览',
    range: '{{from}} 至 {{to}}',
    refresh: '刷新',
    sent: '已发送',
    delivered: '已送达',
    failed: '失败',
    suppressed: '已抑制',
    deliveryRate: '送达率',
    byChannel: '按渠道和状态',
    empty: '今天还没有消息',
    column: {
      channel: '渠道',
      status: '状态',
      sent: '发送',
      delivered: '送达',
      failed: '失败',
    },
  },
  channel: {
    APP_PUSH: 'App 推送',
    SMS: '短信',
    WECHAT: '微信',
    DINGTALK: '钉钉',
    VOICE: '语音',
    RCS: 'RCS 富媒体消息',
    EMAIL: '邮件',
    WEBHOOK: 'Webhook',
  },
  status: {
    QUEUED: '排队中',
    SENT: '已发送',
    DELIVERED: '已送达',
    DISPLAYED: '已展示',
    CLICKED: '已点击',
    FAILED: '失败',
    SUPPRESSED: '已抑制',
    REDUNDANT: '冗余',
  },
  error: {
    BAD_INPUT: '输入有误，请检查后重试',
    NOT_FOUND: '没有找到该内容',
    UNAUTHENTICATED: '邮箱或密码不正确',
    FORBIDDEN: '没有权限执行此操作',
    CONFLICT: '内容已被修改，请刷新后重试',
    RATE_LIMITED: '请求过于频繁，请稍后再试',
    UNAVAILABLE: '服务暂时不可用，请稍后再试',
    INTERNAL: '服务出错了，请稍后再试',
    retry: '重试',
  },
};

type Dictionary<T> = { [K in keyof T]: T[K] extends string ? string : Dictionary<T[K]> };

/** Messages is the shape every language's dictionary has. */
export type Messages = Dictionary<typeof zhCN>;

export const en: Messages = {
  app: {
    title: 'Herald Message Center',
    brand: 'Herald',
  },
  nav: {
    today: 'Today',
  },
  language: {
    label: 'Language',
    'zh-CN': '中文',
    en: 'English',
  },
  signIn: {
    title: 'Sign in to Herald',
    subtitle: 'Multi-channel message center console',
    email: 'Email',
    emailRequired: 'Enter your email',
    emailInvalid: 'This is not a valid email address',
    password: 'Password',
    passwordRequired: 'Enter your password',
    submit: 'Sign in',
  },
  layout: {
    app: 'App',
    selectApp: 'Select an app',
    noApps: 'No apps available yet',
    signOut: 'Sign out',
    role: {
      ADMIN: 'Admin',
      OPERATOR: 'Operator',
      VIEWER: 'Viewer',
    },
  },
  today: {
    title: 'Today',
    range: '{{from}} to {{to}}',
    refresh: 'Refresh',
    sent: 'Sent',
    delivered: 'Delivered',
    failed: 'Failed',
    suppressed: 'Suppressed',
    deliveryRate: 'Delivery rate',
    byChannel: 'By channel and status',
    empty: 'No messages today yet',
    column: {
      channel: 'Channel',
      status: 'Status',
      sent: 'Sent',
      delivered: 'Delivered',
      failed: 'Failed',
    },
  },
  channel: {
    APP_PUSH: 'App push',
    SMS: 'SMS',
    WECHAT: 'WeChat',
    DINGTALK: 'DingTalk',
    VOICE: 'Voice',
    RCS: 'RCS',
    EMAIL: 'Email',
    WEBHOOK: 'Webhook',
  },
  status: {
    QUEUED: 'Queued',
    SENT: 'Sent',
    DELIVERED: 'Delivered',
    DISPLAYED: 'Displayed',
    CLICKED: 'Clicked',
    FAILED: 'Failed',
    SUPPRESSED: 'Suppressed',
    REDUNDANT: 'Redundant',
  },
  error: {
    BAD_INPUT: 'Some input is not valid; check it and try again',
    NOT_FOUND: 'Not found',
    UNAUTHENTICATED: 'Wrong email or password',
    FORBIDDEN: 'You are not allowed to do this',
    CONFLICT: 'This was changed meanwhile; reload and try again',
    RATE_LIMITED: 'Too many requests; try again in a moment',
    UNAVAILABLE: 'Herald is not reachable right now; try again in a moment',
    INTERNAL: 'Something went wrong on the server; try again in a moment',
    retry: 'Retry',
  },
};

/** The languages the console speaks, the first being the default. */
export const LANGUAGES = ['zh-CN', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

export const DEFAULT_LANGUAGE: Language = 'zh-CN';

export const dictionaries: Record<Language, Messages> = {
  'zh-CN': zhCN,
  en,
};

/** isLanguage tells whether s names a language the console speaks. */
export function isLanguage(s: string | null | undefined): s is Language {
  return (LANGUAGES as readonly string[]).includes(s ?? '');
}
