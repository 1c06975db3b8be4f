// admin.mjs - a new admin's first minutes in the panel, in real headless
// Chromium: first-run setup, the DNS page, add a domain, create three
// employees through the forms, see them listed (laptop and phone sizes),
// set the smarthost and size limit, the mail checks, look at the DNS
// page's DKIM advice and the message trace, then log in as one employee. Screenshots of every step go to SHOTS_DIR
// (git-ignored); the last stdout line is a JSON summary for the pytest
// wrapper (tests/integration/test_web_browser.py).
//
//   node admin.mjs https://127.0.0.1:PORT SHOTS_DIR
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const base = process.argv[2];
const shots = process.argv[3] || 'shots';
fs.mkdirSync(shots, { recursive: true });

const MAIL_DOMAIN = 'firma.test';
const ADMIN_PW = 'Browser-admin-1';
const SMARTHOST_PW = 'Relay-secret-9';
const employees = [
  { local: 'anna', name: 'Anna Berg', pw: 'Anna-pass-1' },
  { local: 'ben', name: 'Ben Ortiz', pw: 'Ben-pass-22' },
  { local: 'chris', name: 'Chris <b>Lee</b>', pw: 'Chris-pass-3' },
];

const steps = [];
function step(name, t0) {
  steps.push({ name, ms: Date.now() - t0 });
}
function expect(cond, what) {
  if (!cond) throw new Error('expectation failed: ' + what);
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let result = { ok: false };
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true,
                                             viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const consoleErrors = [];
  // a refused form answers 400 on purpose, which Chromium logs as an error:
  // allow exactly the ones a step provokes
  let expected400 = 0;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (expected400 > 0 && m.text().includes('status of 400')) { expected400--; return; }
    consoleErrors.push(m.text());
  });
  const shot = (n) => page.screenshot({ path: path.join(shots, n + '.png'), fullPage: true });

  // 1. a fresh box sends the admin to the setup wizard
  let t = Date.now();
  await page.goto(base + '/');
  expect(page.url().endsWith('/setup'), 'fresh box opens /setup, got ' + page.url());
  await shot('01-setup');
  await page.getByLabel('Your mail domain').fill(MAIL_DOMAIN);
  await page.getByLabel("This server's name").fill('mail.' + MAIL_DOMAIN);
  await page.getByLabel('Your admin login').fill('admin');
  await page.getByLabel('Admin password').fill(ADMIN_PW);
  await page.getByLabel('Password again').fill(ADMIN_PW);
  await page.getByRole('button', { name: 'Set up my mail server' }).click();
  await page.waitForURL(/\/dns/);
  await shot('02-dns');
  step('setup', t);

  // 2. the timed part: a domain and three accounts, by clicking
  const t0 = Date.now();
  t = Date.now();
  await page.getByRole('link', { name: 'Domains' }).click();
  await page.getByLabel('Domain name').fill('branch.test');
  await page.getByRole('button', { name: 'Add domain' }).click();
  await page.getByText('Domain branch.test added.').waitFor();
  await shot('03-domains');
  step('add domain', t);

  await page.getByRole('link', { name: 'Accounts' }).click();
  for (const e of employees) {
    t = Date.now();
    await page.getByLabel('Email address').fill(e.local);
    await page.locator('select#domain').selectOption(MAIL_DOMAIN);
    await page.getByLabel('Full name').fill(e.name);
    await page.getByLabel('Password', { exact: false }).first().fill(e.pw);
    await page.getByLabel('Mailbox size limit in MB').fill('500');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByText(`Account ${e.local}@${MAIL_DOMAIN} created.`).waitFor();
    step('create ' + e.local, t);
  }
  const elapsed = Date.now() - t0;
  for (const e of employees) {
    await page.getByRole('link', { name: `${e.local}@${MAIL_DOMAIN}` }).waitFor();
  }
  const listed = await page.locator('table').innerText();
  expect(listed.includes('Chris <b>Lee</b>'), 'markup in a name is shown as text');
  await shot('04-accounts');

  // 3. the same pages on a phone
  t = Date.now();
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(base + '/accounts');
  await phone.screenshot({ path: path.join(shots, '05-accounts-phone.png'), fullPage: true });
  await phone.goto(base + '/');
  await phone.screenshot({ path: path.join(shots, '06-dashboard-phone.png'), fullPage: true });
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth >
                                               window.innerWidth + 1);
  expect(!overflow, 'dashboard fits a phone without sideways scrolling');
  await phone.close();
  await page.goto(base + '/');
  await shot('07-dashboard');
  step('phone and dashboard', t);

  // 3b. outgoing mail on the Settings page: the provider's smarthost, a
  // write-only password, the size limit; a bad value is named at its field
  t = Date.now();
  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByLabel('Smarthost', { exact: false }).first().fill('smtp.provider.test');
  expected400++;
  await page.getByRole('button', { name: 'Save outgoing mail settings' }).click();
  await page.locator('#smarthost-err').waitFor();
  expect((await page.locator('#smarthost').getAttribute('aria-invalid')) === 'true',
         'the refused smarthost field is marked invalid');
  await page.locator('#smarthost').fill('smtp.provider.test:587');
  await page.getByLabel('Smarthost user name').fill('office@provider.test');
  await page.locator('#smarthost_password').fill(SMARTHOST_PW);
  await page.getByLabel('Largest message in MB').fill('10');
  await page.getByRole('button', { name: 'Save outgoing mail settings' }).click();
  await page.getByText('Outgoing mail settings saved.').waitFor();
  expect((await page.locator('#smarthost-password-state').innerText()) === 'set',
         'the smarthost password shows as set');
  expect(!(await page.content()).includes(SMARTHOST_PW), 'the password is never shown back');
  await shot('09-settings-outgoing');
  step('smarthost and size limit', t);

  // 3c. mail checks: a blocklist and greylisting for the office's domain
  t = Date.now();
  await page.getByRole('link', { name: 'Mail checks' }).click();
  await page.getByLabel('DNS blocklists').fill('bl.example');
  await page.getByLabel('Greylisting for these domains').fill(MAIL_DOMAIN);
  await page.getByLabel('Check DKIM signatures').uncheck();
  await page.getByRole('button', { name: 'Save mail checks' }).click();
  await page.getByText('Mail checks saved.', { exact: false }).waitFor();
  expect((await page.locator('#dnsbl_zones').inputValue()) === 'bl.example',
         'the blocklist is kept');
  expect(!(await page.getByLabel('Check DKIM signatures').isChecked()), 'DKIM stays off');
  await shot('10-mail-checks');
  step('mail checks', t);

  // 3d. the DNS page says how to make a DKIM key; the trace page is empty
  t = Date.now();
  await page.getByRole('link', { name: 'DNS records' }).click();
  await page.getByText(`mailroomctl dkim keygen ${MAIL_DOMAIN}`, { exact: false }).waitFor();
  await page.getByRole('link', { name: 'Message trace' }).click();
  await page.getByText('No messages have arrived yet.').waitFor();
  await page.getByLabel('Sender or recipient', { exact: false }).fill('a b');
  expected400++;
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('#address-err').waitFor();
  await shot('11-trace');
  step('dns dkim and trace pages', t);

  // 4. log out, log in as an employee with the password set in the browser
  t = Date.now();
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(/\/login/);
  // keyboard only: the address field has focus, Tab to the password, Enter
  const focused = await page.evaluate(() => document.activeElement && document.activeElement.id);
  expect(focused === 'address', 'the login form starts in the address field');
  await page.keyboard.type(`anna@${MAIL_DOMAIN}`);
  await page.keyboard.press('Tab');
  await page.keyboard.type(employees[0].pw);
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/me$/);
  await page.getByText(`anna@${MAIL_DOMAIN}`).first().waitFor();
  await shot('08-employee-me');
  const nav = await page.locator('nav').innerText();
  expect(!nav.includes('Domains'), 'an employee sees no admin links');
  step('employee login', t);

  expect(consoleErrors.length === 0, 'no console errors: ' + consoleErrors.join(' | '));
  expect(expected400 === 0, 'each refused form answered 400');
  result = { ok: true, elapsed_ms: elapsed, steps,
             admin: `admin@${MAIL_DOMAIN}`, admin_password: ADMIN_PW,
             employees: employees.map((e) => ({ address: `${e.local}@${MAIL_DOMAIN}`,
                                                password: e.pw })) };
} catch (err) {
  result = { ok: false, error: String(err && err.stack || err), steps };
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
