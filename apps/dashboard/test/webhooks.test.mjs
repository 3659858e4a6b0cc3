// The Webhooks page in a real browser against a real farm: an admin adds a webhook (its secret
// shown once), sees it listed, sends a test ping to a real receiver and sees its status, 200.
// Run with `npm run test:browser` (after `npm run build`).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, startFarm } from './farm.mjs';

const SCREENSHOT = process.env.DROVER_SCREENSHOT_DIR;

describe('the Webhooks page', { timeout: 120_000 }, () => {
  let farm;
  let browser;
  let page;
  let receiver;
  let receiverUrl;
  const received = [];
  const pageErrors = [];

  before(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        received.push({ headers: request.headers, body });
        response.writeHead(200).end('ok');
      });
    });
    await new Promise((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${receiver.address().port}/hook`;
    farm = await startFarm({ workers: 0 });
    browser = await launchBrowser();
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.setDefaultTimeout(30_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await farm.signIn(page);
  });

  after(async () => {
    await browser?.close();
    await farm?.stop();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve) ?? resolve());
  });

  it('adds a webhook, lists it and shows the status of a test ping', async () => {
    await page.goto(`${farm.url}/webhooks`);
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();
    await page.getByText('No webhooks yet.').waitFor();

    // A URL the server will not call is refused with its reason, and nothing is added.
    const form = page.getByRole('form', { name: 'new webhook' });
    await form.locator('input[name="url"]').fill('ftp://example.org/x');
    await form.getByRole('button', { name: 'Add webhook' }).click();
    await page
      .getByRole('alert')
      .getByText(/http:\/\/ or https:\/\//)
      .waitFor();
    assert.equal((await farm.rpc('webhooks.list', {})).webhooks.length, 0);

    await form.locator('input[name="url"]').fill(receiverUrl);
    await form.locator('input[name="group"]').fill('renders');
    await form.locator('input[name="worker.offline"]').check();
    await form.getByRole('button', { name: 'Add webhook' }).click();
    const secret = await page.locator('[data-secret]').textContent();
    assert.match(secret ?? '', /^whsec_/);

    const [hook] = (await farm.rpc('webhooks.list', {})).webhooks;
    assert.ok(hook);
    assert.deepEqual(hook.events, ['job.failed', 'worker.offline']);
    const row = page.locator(`tr[data-webhook-id="${hook.id}"]`);
    await row.waitFor();
    assert.match(await row.textContent(), /renders.*job\.failed, worker\.offline.*none yet/);

    await row.getByRole('button', { name: 'Send test' }).click();
    await page.locator(`tr[data-webhook-id="${hook.id}"][data-last-status="200"]`).waitFor();
    assert.match(await row.locator('.last-delivery').textContent(), /delivered · 200/);
    assert.equal(received.length, 1);
    assert.equal(received[0].headers['drover-event'], 'ping');
    if (SCREENSHOT) await page.screenshot({ path: `${SCREENSHOT}/webhooks.png`, fullPage: true });

    // The secret is not on the page once dismissed, nor after a reload.
    await page.getByRole('button', { name: 'Done' }).click();
    await page.reload();
    await row.waitFor();
    assert.ok(!(await page.content()).includes(secret));

    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Remove' }).click();
    await page.getByText('No webhooks yet.').waitFor();
    assert.deepEqual(pageErrors, []);
  });
});
