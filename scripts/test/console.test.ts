/**
 * The web console in a real browser (Debian's Chromium through playwright-core) against
 * the real stack `npm start` brings up (chain, simulator, oracle, SubQuery node and query
 * service, API serving /console), on free ports and a fresh database. Three journeys, as
 * a person does them: a buyer's native order followed through the explorer; an arbiter
 * resolving a dispute with the split slider; an admin reconciling after the demo's
 * journeys. Every main page passes axe-core with no serious or critical violation, and
 * nothing is fetched from outside this machine.
 * `npm run console:screenshots` runs it with CONSOLE_SCREENSHOTS=1 to refresh docs/console/.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { payoutSplit } from '@descrow/contracts';
import { actors, fundedMpesaOrder, fundedNativeOrder, seedSeller, SELLER_PHONE, shipAndConfirm, type Stack } from '../journeys';
import { startStack, type RunningStack } from './stack';
import { Pool } from '@descrow/common';

const ROOT = resolve(__dirname, '../..');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const SHOTS = process.env.CONSOLE_SCREENSHOTS ? join(ROOT, 'docs/console') : null;
const FEE_BPS = 250;
const log = (l: string) => process.env.E2E_VERBOSE && process.stdout.write(`${l}\n`);
const describeBrowser = CHROMIUM ? describe : describe.skip;
if (!CHROMIUM) process.stderr.write('console.test: chromium is not installed (`apt-get install chromium`; .ci/run does): skipped\n');

let stack: RunningStack;
let s: Stack;
let browser: Browser;
let productId: string;
let base: string;
const ports = { chain: 0, api: 0 };
const blocked: string[] = [];
const cspViolations: string[] = [];

beforeAll(async () => {
  if (!CHROMIUM) return;
  // ADMIN_ADDRESSES empty: npm start's development default, the dev owner is the admin.
  stack = await startStack('console', { ADMIN_ADDRESSES: '' }, log);
  s = stack.s;
  Object.assign(ports, { chain: stack.ports.chain, api: stack.ports.api });
  expect(stack.output()).toContain(`Web console      http://localhost:${stack.ports.api}/console`);
  base = `http://localhost:${stack.ports.api}/console`;
  await s.sim('PUT', `/ledger/accounts/customer:${SELLER_PHONE}`, { balance: 0 });
  ({ productId } = await seedSeller(s, log, 10n ** 18n, 2_000));
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM!,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 240_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await stack?.stop();
}, 60_000);

/** A browser context as a visitor on this machine only: the API and (for the dev wallet) the dev chain. */
async function visitor(viewport = { width: 1280, height: 860 }): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ viewport, timezoneId: 'Africa/Nairobi', locale: 'en-KE' });
  await ctx.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.host === `localhost:${ports.api}` || url.host === `127.0.0.1:${ports.chain}` || url.protocol === 'data:') return route.continue();
    blocked.push(url.href);
    return route.abort('internetdisconnected');
  });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text()); });
  return { ctx, page };
}

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
/** axe-core in the page (evaluated over the DevTools protocol, so the page's CSP still holds). */
async function accessible(page: Page, name: string) {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await (window as unknown as { axe: { run: (ctx: Document, o: object) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
  });
  expect([name, violations]).toEqual([name, []]);
}

async function shot(page: Page, name: string) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Signs in with the dev wallet's button for `role` (anvil signs the EIP-4361 message). */
async function signInAs(page: Page, role: string) {
  await page.goto(`${base}/signin`);
  await page.getByRole('button', { name: new RegExp(`Sign in as ${role}`) }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** The page's width fits the phone: nothing scrolls sideways but inside its own box. */
const fitsWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);

const dot = (wei: bigint) => new RegExp(`${(Number(wei) / 1e18).toString().replace('.', '\\.')} DOT`);

describeBrowser('the web console', () => {
  test('a buyer\'s native order followed through the explorer: live list, search, timeline, transaction, block, account', async () => {
    const { buyer, seller } = actors();
    const { ctx, page } = await visitor();
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'Explorer' }).waitFor();
    // Keyboard: the search box is reachable with Tab and shows where the focus is.
    for (let i = 0; i < 6 && (await page.evaluate(() => document.activeElement?.id)) !== 'search'; i++) await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search');
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe('none');

    // The order appears in the live list while the page stays open, pushed by the index's
    // steps (the fallback reload every 30 s would be too late for this wait).
    await page.getByText('updated as the index moves').waitFor();
    const { orderId, amount } = await fundedNativeOrder(s, productId, log);
    await page.locator(`a[href="/console/order/${orderId}"]`).first().waitFor({ timeout: 10_000 });
    await accessible(page, 'explorer');
    await shot(page, 'explorer');
    const done = await shipAndConfirm(s, orderId, log);
    expect(done.status).toBe('COMPLETED');

    // Search by the order id (typed, Enter), straight to the order page.
    await page.getByLabel(/Search by order id/).fill(orderId);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: /^Order 0x/ }).waitFor();
    const { sellerAmount, fee } = payoutSplit(amount, FEE_BPS);
    const timeline = page.locator('ol.timeline');
    await timeline.getByText('PayoutSent').waitFor();
    expect(await timeline.locator('li > strong').allInnerTexts()).toEqual(['OrderCreated', 'OrderFunded', 'OrderShipped', 'OrderDelivered', 'OrderCompleted', 'PayoutSent']);
    await page.getByText('COMPLETED', { exact: true }).waitFor();
    const money = page.locator('section', { has: page.getByRole('heading', { name: 'Money' }) });
    expect(await money.innerText()).toMatch(dot(amount));
    expect(await money.innerText()).toMatch(dot(sellerAmount));
    expect(await money.innerText()).toMatch(dot(fee));
    await accessible(page, 'order');
    await shot(page, 'order');

    // From the funding event to its transaction, its block, and the buyer's account.
    await timeline.locator('li', { hasText: 'OrderFunded' }).getByRole('link').nth(1).click();
    await page.getByRole('heading', { name: /^Transaction 0x/ }).waitFor();
    expect(await page.locator('main').innerText()).toContain('OrderFunded');
    await accessible(page, 'transaction');
    await page.locator('main dl').getByRole('link', { name: /^#\d+/ }).click();
    await page.getByRole('heading', { name: /^Block #\d+/ }).waitFor();
    await page.locator('main').getByRole('link', { name: /^0x/ }).first().waitFor();
    await accessible(page, 'block');
    await page.goto(`${base}/search?q=${buyer.address}`);
    await page.getByRole('heading', { name: /^Account 0x/ }).waitFor();
    await page.locator(`a[href="/console/order/${orderId}"]`).waitFor();
    expect(await page.locator('main').innerText()).toContain('buyer');
    await accessible(page, 'account');
    await shot(page, 'account');

    // A phone-sized screen: the same pages, nothing wider than the screen.
    const phone = await visitor({ width: 390, height: 844 });
    for (const [path, heading] of [['/', 'Explorer'], [`/order/${orderId}`, /^Order 0x/], [`/account/${seller.address.toLowerCase()}`, /^Account 0x/]] as const) {
      await phone.page.goto(`${base}${path}`);
      await phone.page.getByRole('heading', { name: heading }).waitFor();
      expect([path, await fitsWidth(phone.page)]).toEqual([path, true]);
    }
    await phone.page.goto(`${base}/order/${orderId}`);
    await phone.page.getByText('PayoutSent').waitFor();
    await shot(phone.page, 'order-phone');
    await phone.ctx.close();
    await ctx.close();
  }, 120_000);

  test('an arbiter resolves a dispute: both statements read, the slider shows the exact split before the wallet signs, the chain pays it', async () => {
    const { buyer } = actors();
    const { orderId, amount } = await fundedNativeOrder(s, productId, log);
    const { prepareRaiseDispute: p } = await s.gql<{ prepareRaiseDispute: { call: { to: `0x${string}`; data: `0x${string}`; value: string } } }>(
      `mutation($id: ID!) { prepareRaiseDispute(orderId: $id, input: { statement: "The basket arrived torn on one side." }) { call { to data value } } }`, { id: orderId }, buyer);
    await s.send(buyer, { to: p.call.to, data: p.call.data });
    await s.waitForOrder(orderId, buyer, (o) => o.status === 'DISPUTED', 'DISPUTED');

    const { ctx, page } = await visitor();
    await signInAs(page, 'arbiter');
    await page.getByRole('link', { name: 'Disputes' }).click();
    const card = page.locator('article', { has: page.locator(`a[href="/console/order/${orderId}"]`) });
    await card.getByText('The basket arrived torn on one side.').waitFor();
    await card.getByText("Buyer's evidence").waitFor();
    await card.getByText("Seller's evidence").waitFor();
    const slider = card.getByLabel(/Buyer's share/);
    await slider.fill('4000');
    await card.getByText('40 %', { exact: false }).first().waitFor();
    const split = payoutSplit(amount, FEE_BPS, 4_000);
    await card.getByTestId('split-buyer').getByText(dot(split.buyerAmount)).waitFor();
    expect(await card.getByTestId('split-seller').innerText()).toMatch(dot(split.sellerAmount));
    expect(await card.getByTestId('split-fee').innerText()).toMatch(dot(split.fee));
    await accessible(page, 'disputes');
    await shot(page, 'disputes');
    await card.getByRole('button', { name: /Resolve: sign with the wallet/ }).click();
    await page.getByRole('status').filter({ hasText: /resolved in transaction 0x[0-9a-f]{64}: 40 % to the buyer/ }).waitFor({ timeout: 60_000 });
    const o = await s.waitForOrder(orderId, buyer, (v) => v.status === 'RESOLVED', 'RESOLVED');
    expect(o).toMatchObject({ refundedToBuyer: split.buyerAmount.toString(), paidToSeller: split.sellerAmount.toString(), fee: split.fee.toString() });
    await ctx.close();
  }, 120_000);

  test('an admin reconciles after the demo\'s journeys: daily totals per mode as a chart and a table, no discrepancy', async () => {
    // The demo's second journey (M-Pesa); the native one ran above.
    const m = await fundedMpesaOrder(s, productId, log);
    await shipAndConfirm(s, m.orderId, log);
    const { ctx, page } = await visitor();
    await signInAs(page, 'admin');
    await page.getByRole('heading', { name: 'Reconciliation' }).waitFor();
    // The oracle and the index settle their last records within seconds: reconcile until they have.
    const deadline = Date.now() + 60_000;
    for (;;) {
      await page.getByRole('button', { name: 'Reconcile' }).click();
      const balanced = await page.getByText('Balanced: no discrepancies in this range.').waitFor({ timeout: 3_000 }).then(() => true, () => false);
      if (balanced) break;
      if (Date.now() > deadline) throw new Error(`reconciliation never balanced:\n${await page.locator('main').innerText()}`);
    }
    const mpesa = page.locator('section', { has: page.getByRole('heading', { name: 'Daily totals: M-Pesa (KES)' }) });
    await mpesa.locator('svg[role="img"] rect').first().waitFor();
    const collected = await mpesa.locator('tbody tr td:nth-child(3)').allInnerTexts();
    expect(collected.join(' ')).toMatch(/2,000/); // the M-Pesa order's 2,000 KES
    await page.locator('section', { has: page.getByRole('heading', { name: 'Daily totals: DOT' }) }).locator('svg[role="img"]').waitFor();
    await page.getByText('None: the chain, the M-Pesa ledger and the payouts agree.').waitFor();
    await accessible(page, 'reconciliation');
    await shot(page, 'reconciliation');
    const phone = await visitor({ width: 390, height: 844 });
    await signInAs(phone.page, 'admin');
    await phone.page.getByText('Balanced: no discrepancies in this range.').waitFor();
    expect(await fitsWidth(phone.page)).toBe(true);
    await shot(phone.page, 'reconciliation-phone');
    await phone.ctx.close();

    // The other admin pages load and pass axe too.
    for (const [link, heading] of [['Payouts', 'Payouts needing a person'], ['KYC', 'KYC review'], ['Health', 'Index and services']] as const) {
      await page.getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { name: heading }).waitFor();
      await page.locator('main [role="status"]').first().waitFor({ state: 'detached' }).catch(() => undefined);
      await accessible(page, link);
    }
    await page.getByText(/Indexed to/).waitFor();
    await shot(page, 'health');

    // A refund case (money that funds no order: here a second payment for the M-Pesa order, as the
    // oracle opens one) shows as a discrepancy; finance refunds it outside and closes it here.
    const pool = new Pool({ connectionString: stack.databaseUrl, max: 1 });
    try {
      await pool.query(
        `INSERT INTO oracle.refund_cases (kind, dedupe_key, order_id, receipt, phone, amount_kes, reason) VALUES ('paid_twice', 'CONSOLE0001', $1, 'CONSOLE0001', '254708374149', 500, 'a second payment for an order another payment already holds')`,
        [m.orderId.toLowerCase()],
      );
      await page.getByRole('link', { name: 'Reconciliation', exact: true }).click();
      // Reconcile again until it shows (an answer cached for the API's short TTL may come first).
      for (let tries = 0; ; tries++) {
        await page.getByRole('button', { name: 'Reconcile' }).click();
        if (await page.getByText(/Refund needed \(PAID_TWICE\)/).waitFor({ timeout: 2_000 }).then(() => true, () => false)) break;
        if (tries > 10) throw new Error(`the refund case never showed:\n${await page.locator('main').innerText()}`);
      }
      await page.getByLabel(/Note for case/).fill('M-Pesa reversal RVS00001');
      await page.getByRole('button', { name: 'Mark refunded' }).click();
      await page.getByText('Balanced: no discrepancies in this range.').waitFor({ timeout: 10_000 });
      const { rows } = await pool.query(`SELECT status, note FROM oracle.refund_cases WHERE dedupe_key = 'CONSOLE0001'`);
      expect(rows).toEqual([{ status: 'refunded', note: expect.stringContaining('M-Pesa reversal RVS00001') }]);
    } finally {
      await pool.end();
    }
    await ctx.close();
    expect(blocked).toEqual([]);
    expect(cspViolations).toEqual([]);
  }, 120_000);
});
