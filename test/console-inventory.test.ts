// The console's inventory page against `certgate serve` (the process that runs the inventory
// collector): curl with a client certificate whose subject is markup, then find it in the console by
// searching its subject, shown as text.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startServeProcess, putServedApp, type ServeProcess } from './support/serve-process.ts';
import { startEchoApp, type EchoApp } from './support/echo-app.ts';
import { curl, curlResult } from './support/clients.ts';
import { launchChromium, watchedPage, type TestBrowser } from './support/browser.ts';
import { createCa, issueCertificate } from '../src/pki/issue.ts';

const XSS = '<img src=x onerror=alert(1)>';
const HOST = 'seen.env1.certgate.localhost';
let dir: string;
let serve: ServeProcess;
let echo: EchoApp;
let browser: TestBrowser;
let page: Page;
const dialogs: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-console-inventory-'));
  echo = await startEchoApp();
  serve = await startServeProcess(join(dir, 'data'), ['--access-log', 'off']);
  browser = await launchChromium();
  page = await watchedPage(browser, dialogs);
});

after(async () => {
  await browser?.close();
  await serve?.kill();
  await echo?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('a certificate whose subject is markup connects with curl and is found in the inventory, as text', async () => {
  const appPath = await putServedApp(serve, 'seen', { external: true, targetPort: echo.port, clientCertificateMode: 'accept' });
  const ca = await createCa({ commonName: 'Console Inventory CA' });
  const client = await issueCertificate({ issuer: ca, commonName: XSS, kind: 'client', dnsNames: ['device.partner.example'] });
  const cert = join(dir, 'client.pem');
  const key = join(dir, 'client.key');
  writeFileSync(cert, client.certPem);
  writeFileSync(key, client.keyPem);
  const served = curlResult(await curl({ host: HOST, port: serve.httpsPort, caFile: serve.caFile, cert, key }));
  assert.equal(served.status, 200);

  const endpoint = serve.credentials.endpoint;
  await page.goto(`${endpoint}/console/sign-in`);
  await page.getByLabel('Client id').fill(serve.credentials.clientId);
  await page.getByLabel('Client secret').fill(serve.credentials.clientSecret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Environments and apps' }).waitFor();

  // The collector writes its batch within a second or so: reload until the row is there.
  const url = `${endpoint}/console/inventory?${new URLSearchParams({ app: appPath, search: 'onerror' })}`;
  const cell = page.locator('td.subject', { hasText: 'onerror=alert(1)' });
  for (let attempt = 0; (await cell.count()) === 0; attempt++) {
    if (attempt >= 40) assert.fail(`not in the inventory: ${await page.locator('main').innerText()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await page.goto(url);
  }
  assert.match(await cell.innerText(), /<img src=x onerror=alert\(1\)/);
  assert.match(await page.getByRole('row').filter({ hasText: 'onerror' }).innerText(), /device\.partner\.example/);
  assert.equal(await page.locator('img').count(), 0);
  assert.deepEqual(dialogs, []);
  assert.equal(await page.getByLabel('Thumbprint, subject or SAN').inputValue(), 'onerror');
  // A search that matches nothing says so.
  await page.goto(`${endpoint}/console/inventory?${new URLSearchParams({ app: appPath, search: 'no-such-device' })}`);
  await page.getByRole('status').filter({ hasText: 'No client certificate matches.' }).waitFor();
  await page.goto(url);
  if (process.env.CONSOLE_SCREENSHOTS) await page.screenshot({ path: join(process.env.CONSOLE_SCREENSHOTS, 'inventory.png'), fullPage: true });
});
