// xss_check.mjs - open pages of the web admin in real headless Chromium as a
// logged-in admin and report whether anything injected ran: a dialog
// (alert/confirm/prompt), a CSP violation (an injected inline script or
// handler that tried to run), a global the payloads set (window.__xss), or
// an element with an on* handler attribute. Uses tests/browser's pinned
// playwright-core with Debian's /usr/bin/chromium.
//
//   node xss_check.mjs BASE_URL SID PATH...   (last stdout line: JSON)
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'browser', 'package.json'));
const { chromium } = require('playwright-core');

const [base, sid, ...paths] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const out = { ok: true, pages: [] };
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  await context.addCookies([{ name: 'mr_sid', value: sid, url: base }]);
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation',
      (e) => window.__csp.push(e.violatedDirective + ' ' + (e.sample || '')));
  });
  for (const p of paths) {
    const page = await context.newPage();
    const dialogs = [];
    const requests = [];
    page.on('dialog', async (d) => { dialogs.push(d.type() + ':' + d.message()); await d.dismiss(); });
    page.on('request', (r) => { if (!r.url().startsWith(base)) requests.push(r.url()); });
    const resp = await page.goto(base + p, { waitUntil: 'load' });
    await page.waitForTimeout(300);
    const info = await page.evaluate(() => {
      const handlers = [];
      for (const el of document.querySelectorAll('*')) {
        for (const a of el.getAttributeNames()) {
          if (a.toLowerCase().startsWith('on')) handlers.push(el.tagName + '[' + a + ']');
        }
        if (/^\s*javascript:/i.test(el.getAttribute('href') || '')) handlers.push(el.tagName + '[href=javascript]');
      }
      return { xss: window.__xss || null, csp: window.__csp, handlers,
               scripts: document.querySelectorAll('script').length,
               text: document.body ? document.body.innerText : '' };
    });
    out.pages.push({ path: p, status: resp.status(), url: page.url(), dialogs, requests, ...info });
    await page.close();
  }
} catch (e) {
  out.ok = false;
  out.error = String(e && e.stack || e);
}
await browser.close();
console.log(JSON.stringify(out));
