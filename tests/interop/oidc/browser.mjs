// Headless Chromium (Debian's) through fedgate's browser sign-in: the dashboard link, the
// identity provider's own login (and consent) pages, back to fedgate, and the token posted to
// the trusted dashboard. Prints the token the dashboard received; saves a screenshot.
//   node browser.mjs START_URL DASHBOARD_PORT SCREENSHOT.png
// LOGIN=form LOGIN_USER=u LOGIN_PASSWORD=p: a plain username/password form instead of
// oidc-provider's login and consent pages.
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';

const [startUrl, dashboardPort, screenshot] = process.argv.slice(2);

let received = null;
const dashboard = createServer((req, res) => {
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    if (req.method === 'POST') {
      received = new URLSearchParams(body).get('token');
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>Dashboard</title><h1>Dashboard</h1>
      <p id="status">${received ? `Signed in with a fedgate token (${received.length} characters).` : 'Not signed in.'}</p>`);
  });
});
await new Promise((resolve) => dashboard.listen(Number(dashboardPort), '127.0.0.1', resolve));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-background-networking'],
});
try {
  const page = await browser.newPage();
  await page.goto(startUrl);
  if (process.env.LOGIN === 'form') {
    // A plain login form (the SAML test IdP's).
    await page.waitForSelector('input[name="username"]', { timeout: 15000 });
    await page.fill('input[name="username"]', process.env.LOGIN_USER);
    await page.fill('input[name="password"]', process.env.LOGIN_PASSWORD);
    await page.click('button[type="submit"]');
  } else {
    // oidc-provider's development login page, then its consent page.
    await page.waitForSelector('input[name="login"]', { timeout: 15000 });
    await page.fill('input[name="login"]', 'carol');
    await page.fill('input[name="password"]', 'any');
    await page.click('button[type="submit"]');
    const consent = page.locator('button[type="submit"]');
    await consent.waitFor({ timeout: 15000 });
    if (!page.url().startsWith(`http://127.0.0.1:${dashboardPort}`)) {
      await consent.click();
    }
  }
  await page.waitForURL(`http://127.0.0.1:${dashboardPort}/**`, { timeout: 15000 });
  await page.waitForSelector('#status');
  await page.screenshot({ path: screenshot, fullPage: true });
  if (!received) {
    throw new Error(`the dashboard received no token; page: ${await page.content()}`);
  }
  process.stdout.write(received);
} finally {
  await browser.close();
  dashboard.close();
}
