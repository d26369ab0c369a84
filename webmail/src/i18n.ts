import { signal } from './state';

// English and Simplified Chinese (issue 18, 4.1.8): chosen from the browser the first time,
// switchable in the top bar and remembered. Dates and sizes go through Intl with the same locale.
export type Lang = 'en' | 'zh-CN';

const en = {
  appName: 'GrainMail',
  'login.title': 'Sign in to your mailbox',
  'login.address': 'Email address',
  'login.password': 'Password',
  'login.totp': 'Authenticator code',
  'login.totpHint': 'Two-factor authentication is on: enter the 6-digit code from your authenticator app (or a recovery code).',
  'login.submit': 'Sign in',
  'login.verify': 'Verify',
  'login.failed': 'Wrong address or password',
  'login.wrongCode': 'Wrong code, try again',
  'login.locked': 'Too many failed sign-ins; try again later',
  'login.disabled': 'This account is disabled',
  'login.addressNotAllowed': 'Your organisation does not allow signing in from this network. Ask your administrator, or sign in from an allowed network.',
  'login.ssoForbidden': 'This sign-in link was refused. Open a new one from your company portal, or ask your administrator.',
  'login.error': 'Sign-in failed: {0}',
  'login.noJmap': 'The mail server does not offer JMAP yet ({0}).',
  'login.ssoPending': 'Signing you in…',
  'login.ssoRefused': 'This sign-in link has already been used or has expired. Open a new one from your company portal, or sign in below.',
  logout: 'Sign out',
  language: 'Language',
  compose: 'Compose',
  search: 'Search mail',
  refresh: 'Refresh',
  settings: 'Settings',
  'role.inbox': 'Inbox', 'role.drafts': 'Drafts', 'role.sent': 'Sent', 'role.junk': 'Junk', 'role.trash': 'Trash', 'role.archive': 'Archive',
  'list.empty': 'No messages',
  'list.loading': 'Loading…',
  'list.count': '{0} messages',
  'list.results': 'Search results for “{0}”',
  'list.noSubject': '(no subject)',
  'read.none': 'Select a message to read it',
  'read.from': 'From', 'read.to': 'To', 'read.cc': 'Cc', 'read.date': 'Date',
  'read.remoteBlocked': 'Remote images are blocked to protect your privacy.',
  'read.showImages': 'Show images',
  'read.alwaysSender': 'Always show from {0}',
  'read.attachments': 'Attachments',
  'read.preview': 'Preview',
  'read.download': 'Download',
  'read.conversation': '{0} messages in this conversation',
  'act.reply': 'Reply', 'act.replyAll': 'Reply all', 'act.forward': 'Forward',
  'act.flag': 'Flag', 'act.unflag': 'Unflag', 'act.delete': 'Delete', 'act.junk': 'Junk', 'act.notJunk': 'Not junk',
  'act.markUnread': 'Mark unread', 'act.close': 'Close', 'act.moveTo': 'Move to…',
  'compose.title': 'New message',
  'compose.to': 'To', 'compose.cc': 'Cc', 'compose.bcc': 'Bcc', 'compose.subject': 'Subject',
  'compose.send': 'Send', 'compose.discard': 'Discard', 'compose.attach': 'Attach files',
  'compose.saved': 'Draft saved {0}', 'compose.saving': 'Saving draft…', 'compose.sent': 'Message sent',
  'compose.failed': 'Could not send: {0}', 'compose.uploading': 'Uploading {0}',
  'compose.bold': 'Bold', 'compose.italic': 'Italic', 'compose.underline': 'Underline', 'compose.list': 'Bulleted list', 'compose.link': 'Link',
  'compose.linkPrompt': 'Link address (https://…)',
  'compose.noRecipients': 'Add at least one recipient',
  'compose.wrote': 'On {0}, {1} wrote:',
  'compose.forwarded': '---------- Forwarded message ----------',
  'compose.linkExpires': 'link valid until {0}',
  'notice.newMail': 'New mail arrived',
  'notice.moved': 'Moved to {0}',
  'notice.deleted': 'Deleted',
  'notice.error': 'Error: {0}',
  'set.title': 'Settings',
  'set.password': 'Password', 'set.current': 'Current password', 'set.new': 'New password', 'set.change': 'Change password', 'set.changed': 'Password changed',
  'set.appPasswords': 'App passwords', 'set.appName': 'Name (e.g. Phone)', 'set.create': 'Create', 'set.revoke': 'Revoke',
  'set.appCreated': 'New app password for {0} (shown once): {1}',
  'set.twoFactor': 'Two-factor authentication', 'set.2faOn': 'On', 'set.2faOff': 'Off', 'set.enable': 'Turn on', 'set.disable': 'Turn off',
  'set.2faScan': 'Add this key to your authenticator app, then enter the code it shows.', 'set.code': 'Code', 'set.confirm': 'Confirm',
  'set.recovery': 'Recovery codes (keep them safe):',
  'set.vacation': 'Vacation reply', 'set.vacationOn': 'Send an automatic reply', 'set.vacationSubject': 'Subject', 'set.vacationBody': 'Message',
  'set.from': 'From', 'set.until': 'Until',
  'set.signature': 'Signature', 'set.save': 'Save', 'set.saved': 'Saved',
  'set.unavailable': 'Not available on this server yet',
  'set.shortcuts': 'Keyboard shortcuts',
  'keys.list': 'j / k: next / previous · Enter: open · c: compose · r: reply · a: reply all · f: forward · s: flag · #: delete · !: junk · /: search · u or Esc: back',
  'preview.close': 'Close preview',
};

type Key = keyof typeof en;

const zh: Record<Key, string> = {
  appName: 'GrainMail 邮件',
  'login.title': '登录邮箱',
  'login.address': '邮箱地址',
  'login.password': '密码',
  'login.totp': '动态验证码',
  'login.totpHint': '已开启两步验证：请输入身份验证器应用中的 6 位验证码（或恢复码）。',
  'login.submit': '登录',
  'login.verify': '验证',
  'login.failed': '邮箱地址或密码错误',
  'login.wrongCode': '验证码错误，请重试',
  'login.locked': '登录失败次数过多，请稍后再试',
  'login.disabled': '该账户已停用',
  'login.addressNotAllowed': '贵单位不允许从当前网络登录。请联系管理员，或在允许的网络中登录。',
  'login.ssoForbidden': '此登录链接被拒绝。请从公司门户重新打开，或联系管理员。',
  'login.error': '登录失败：{0}',
  'login.noJmap': '邮件服务器尚未提供 JMAP（{0}）。',
  'login.ssoPending': '正在登录…',
  'login.ssoRefused': '此登录链接已被使用或已过期。请从公司门户重新打开，或在下方登录。',
  logout: '退出',
  language: '语言',
  compose: '写信',
  search: '搜索邮件',
  refresh: '刷新',
  settings: '设置',
  'role.inbox': '收件箱', 'role.drafts': '草稿箱', 'role.sent': '已发送', 'role.junk': '垃圾邮件', 'role.trash': '已删除', 'role.archive': '归档',
  'list.empty': '没有邮件',
  'list.loading': '正在加载…',
  'list.count': '共 {0} 封邮件',
  'list.results': '“{0}”的搜索结果',
  'list.noSubject': '（无主题）',
  'read.none': '选择一封邮件进行阅读',
  'read.from': '发件人', 'read.to': '收件人', 'read.cc': '抄送', 'read.date': '日期',
  'read.remoteBlocked': '为保护您的隐私，已阻止显示远程图片。',
  'read.showImages': '显示图片',
  'read.alwaysSender': '始终显示来自 {0} 的图片',
  'read.attachments': '附件',
  'read.preview': '预览',
  'read.download': '下载',
  'read.conversation': '此会话共 {0} 封邮件',
  'act.reply': '回复', 'act.replyAll': '全部回复', 'act.forward': '转发',
  'act.flag': '标记', 'act.unflag': '取消标记', 'act.delete': '删除', 'act.junk': '垃圾邮件', 'act.notJunk': '不是垃圾邮件',
  'act.markUnread': '标为未读', 'act.close': '关闭', 'act.moveTo': '移动到…',
  'compose.title': '新邮件',
  'compose.to': '收件人', 'compose.cc': '抄送', 'compose.bcc': '密送', 'compose.subject': '主题',
  'compose.send': '发送', 'compose.discard': '放弃', 'compose.attach': '添加附件',
  'compose.saved': '草稿已于 {0} 保存', 'compose.saving': '正在保存草稿…', 'compose.sent': '邮件已发送',
  'compose.failed': '发送失败：{0}', 'compose.uploading': '正在上传 {0}',
  'compose.bold': '粗体', 'compose.italic': '斜体', 'compose.underline': '下划线', 'compose.list': '项目列表', 'compose.link': '链接',
  'compose.linkPrompt': '链接地址（https://…）',
  'compose.noRecipients': '请至少添加一位收件人',
  'compose.wrote': '{0}，{1} 写道：',
  'compose.forwarded': '---------- 转发的邮件 ----------',
  'compose.linkExpires': '链接有效期至 {0}',
  'notice.newMail': '收到新邮件',
  'notice.moved': '已移动到 {0}',
  'notice.deleted': '已删除',
  'notice.error': '出错：{0}',
  'set.title': '设置',
  'set.password': '密码', 'set.current': '当前密码', 'set.new': '新密码', 'set.change': '修改密码', 'set.changed': '密码已修改',
  'set.appPasswords': '应用专用密码', 'set.appName': '名称（如：手机）', 'set.create': '创建', 'set.revoke': '撤销',
  'set.appCreated': '“{0}”的新应用专用密码（仅显示一次）：{1}',
  'set.twoFactor': '两步验证', 'set.2faOn': '已开启', 'set.2faOff': '未开启', 'set.enable': '开启', 'set.disable': '关闭',
  'set.2faScan': '将此密钥添加到身份验证器应用，然后输入其显示的验证码。', 'set.code': '验证码', 'set.confirm': '确认',
  'set.recovery': '恢复码（请妥善保存）：',
  'set.vacation': '假期自动回复', 'set.vacationOn': '发送自动回复', 'set.vacationSubject': '主题', 'set.vacationBody': '内容',
  'set.from': '开始', 'set.until': '结束',
  'set.signature': '签名', 'set.save': '保存', 'set.saved': '已保存',
  'set.unavailable': '此服务器暂不支持',
  'set.shortcuts': '键盘快捷键',
  'keys.list': 'j / k：下一封 / 上一封 · Enter：打开 · c：写信 · r：回复 · a：全部回复 · f：转发 · s：标记 · #：删除 · !：垃圾邮件 · /：搜索 · u 或 Esc：返回',
  'preview.close': '关闭预览',
};

const tables: Record<Lang, Record<Key, string>> = { en, 'zh-CN': zh };

function initial(): Lang {
  const saved = localStorage.getItem('grainmail.lang');
  if (saved === 'en' || saved === 'zh-CN') return saved;
  return navigator.languages.some((l) => l.toLowerCase().startsWith('zh')) ? 'zh-CN' : 'en';
}

export const lang = signal<Lang>(initial());
document.documentElement.lang = lang.value;

export function setLang(l: Lang) {
  localStorage.setItem('grainmail.lang', l);
  document.documentElement.lang = l;
  lang.value = l;
}

export function t(key: Key, ...args: (string | number)[]): string {
  const s = tables[lang.value][key] ?? en[key] ?? key;
  return s.replace(/\{(\d)\}/g, (_, i) => String(args[Number(i)] ?? ''));
}

export function formatDate(iso: string | undefined, long = false): string {
  if (!iso) return '';
  const d = new Date(iso);
  const now = new Date();
  const opts: Intl.DateTimeFormatOptions = long
    ? { dateStyle: 'full', timeStyle: 'short' }
    : d.toDateString() === now.toDateString()
      ? { hour: '2-digit', minute: '2-digit' }
      : d.getFullYear() === now.getFullYear()
        ? { month: 'short', day: 'numeric' }
        : { year: 'numeric', month: 'short', day: 'numeric' };
  return dateFormat(lang.value, opts).format(d);
}

// Building an Intl.DateTimeFormat costs far more than formatting with one, and a list page formats a date per row.
const dateFormats = new Map<string, Intl.DateTimeFormat>();

function dateFormat(locale: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = locale + JSON.stringify(opts);
  let f = dateFormats.get(key);
  if (!f) dateFormats.set(key, (f = new Intl.DateTimeFormat(locale, opts)));
  return f;
}

export function formatSize(bytes: number): string {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return new Intl.NumberFormat(lang.value, { style: 'unit', unit: units[i], unitDisplay: 'short', maximumFractionDigits: i === 0 ? 0 : 1 }).format(v);
}
