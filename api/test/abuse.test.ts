/**
 * Issue 25's attacks on the API (points 2, 3, 4, 5, 8, 9), each as the attacker ran it
 * against the real API (real Postgres, Redis, anvil + Escrow, SubQuery node, oracle):
 * variable page sizes past the cost limit, private fields asked as a stranger and
 * anonymously, streams that outlive logout and expiry, evicted sign-in challenges, a
 * spoofed X-Forwarded-For, /health floods, a Redis outage, refresh racing logout, and
 * the KYC limit stepped around with a quantity.
 */
import './support/prisma';
import { createHash, randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { ANVIL_ACCOUNTS, freePort } from '@descrow/common';
import { ADMIN, BUYER, MISMATCH, QUERY_PAID, SELLER, STRANGER, startFixture, type Fixture } from './support/fixture';
import { CHALLENGE, LOGIN, codes, eventually, fromPeer, gql, login, signIn } from './support/client';
import { startTcpProxy } from './support/tcpProxy';
import { listen } from '../src/serve';
import type { Api } from '../src/app';

let fx: Fixture;
const tokens: Record<'buyer' | 'seller' | 'admin' | 'stranger', string> = { buyer: '', seller: '', admin: '', stranger: '' };
const lc = (a: string) => a.toLowerCase();
const CREATE_PRODUCT = `mutation($i: ProductInput!) { createProduct(input: $i) { id } }`;
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { orderId contractCall { to data value } } }`;
const LONG = 'x'.repeat(5_000); // the longest description a product may have

beforeAll(async () => {
  fx = await startFixture('abuse', 6);
  tokens.buyer = await login(fx.api, BUYER);
  tokens.seller = await login(fx.api, SELLER);
  tokens.admin = await login(fx.api, ADMIN);
  tokens.stranger = await login(fx.api, STRANGER);
  await gql(fx.api, `mutation { updateProfile(input: { displayName: "Wanjiku Crafts", phone: "0711000222" }) { address } }`, {}, { token: tokens.seller });
}, 180_000);

afterAll(async () => {
  await fx?.stop();
});

/** A GraphQL subscription over SSE: every `next` payload, and whether (and when) the server ended the stream. */
async function subscribe(api: Api, query: string, variables: Record<string, unknown>, opts: { token?: string; peer?: string } = {}) {
  const seen: any[] = [];
  const state = { ended: false, endedAt: 0 };
  const abort = new AbortController();
  const init = {
    method: 'POST', signal: abort.signal,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  };
  const res = await (opts.peer ? api.yoga.fetch('http://api.test/graphql', init, fromPeer(opts.peer)) : api.yoga.fetch('http://api.test/graphql', init));
  const reader = res.body!.getReader();
  const reading = (async () => {
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) break;
      buf += new TextDecoder().decode(value);
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = chunk.split('\n').find((l) => l.startsWith('data:'));
        if (data && chunk.includes('event: next')) seen.push(JSON.parse(data.slice(5)));
      }
    }
    state.ended = true;
    state.endedAt = Date.now();
  })();
  return {
    seen, state, status: res.status,
    close: async () => {
      abort.abort();
      await reader.cancel().catch(() => undefined);
      await Promise.race([reading, new Promise((r) => setTimeout(r, 1_000))]);
    },
  };
}

/** A native order of BUYER's from SELLER, funded and indexed, with a delivery address. */
async function fundedNativeOrder(deliveryAddress: string): Promise<string> {
  const p = await gql(fx.api, CREATE_PRODUCT, { i: { title: `Sisal bag ${randomUUID().slice(0, 6)}`, priceNative: '1000000000000' } }, { token: tokens.seller });
  const c = await gql(fx.api, CREATE_ORDER, { i: { productId: p.data.createProduct.id, paymentMode: 'NATIVE', deliveryAddress } }, { token: tokens.buyer });
  const cc = c.data.createOrder.contractCall;
  await fx.sendAs(BUYER.privateKey as Hex, { to: cc.to, data: cc.data, value: BigInt(cc.value) });
  await fx.catchUp();
  return c.data.createOrder.orderId;
}

// ------------------------------------------------------------------------------ point 2
describe('query cost and answer size (point 2)', () => {
  const NESTED = `query($n: Int) { a: products(first: $n) { nodes { description seller { products(first: $n) { nodes { description } } } } }
    b: products(first: $n) { nodes { description seller { products(first: $n) { nodes { description } } } } } }`;

  beforeAll(async () => {
    // 120 products with the longest description there is, from one seller (so nested lists are full).
    const seller = lc(ANVIL_ACCOUNTS[6]!.address);
    await fx.pool.query(`INSERT INTO app.users (address) VALUES ($1) ON CONFLICT DO NOTHING`, [seller]);
    await fx.pool.query(
      `INSERT INTO app.products (id, seller_id, title, description, price_kes, active) SELECT gen_random_uuid(), $1, 'Kikoy ' || g, $2, 100, true FROM generate_series(1, 120) g`,
      [seller, LONG],
    );
  });

  test('attack: a page size given as a variable costs what the same literal costs, and is refused before it runs', async () => {
    const asVariable = await gql(fx.api, NESTED, { n: 100 });
    expect(asVariable.data ?? null).toBeNull();
    expect(codes(asVariable)).toEqual(['BAD_USER_INPUT']);
    expect(asVariable.errors![0]!.message).toMatch(/Cost limit of 20000 exceeded/);
    const literal = await gql(fx.api, NESTED.replace(/\$n\b/g, '100').replace('query(100: Int)', 'query'));
    expect(codes(literal)).toEqual(['BAD_USER_INPUT']);
    // The same query at a modest page size is answered.
    const small = await gql(fx.api, NESTED, { n: 2 });
    expect(small.errors).toBeUndefined();
    expect(small.data.a.nodes).toHaveLength(2);
    // Subscriptions are costed with their variables too (the query is the same shape).
  });

  test('attack: outside development — decided from the chain, not NODE_ENV alone — there is no introspection, GraphiQL or field suggestion', async () => {
    // NODE_ENV unset/"development", but CHAIN_ID names a real chain (Paseo Asset Hub): not development.
    const live = await fx.makeApi({ NODE_ENV: 'development', CHAIN_ID: '420420422' });
    const intro = await gql(live, '{ __schema { queryType { name } } }');
    expect(intro.data?.__schema ?? null).toBeNull();
    expect(intro.errors?.length).toBeGreaterThan(0);
    const page = await live.yoga.fetch('http://api.test/graphql', { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toMatch(/graphiql/i);
    const typo = await gql(live, '{ orderz(first: 1) { nodes { id } } }');
    expect(typo.errors![0]!.message).not.toMatch(/Did you mean/);
  });

  test('every answer is capped in items and in bytes while it is built, whatever the cost model guessed', async () => {
    const few = await fx.makeApi({ API_MAX_NODES: '50' });
    const items = await gql(few, `{ products(first: 100) { nodes { id } } }`);
    expect(items.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'RESPONSE_TOO_LARGE' });
    expect(items.errors![0]!.message).toMatch(/more than 50 items/);
    expect(JSON.stringify(items.data ?? null).length).toBeLessThan(2_000);
    const small = await fx.makeApi({ API_MAX_RESPONSE_BYTES: '100000' });
    const bytes = await gql(small, `{ products(first: 40) { nodes { description } } }`);
    expect(bytes.data ?? null).toBeNull();
    expect(bytes.errors![0]!.message).toMatch(/more than the 100000 allowed/);
    expect((await gql(small, `{ products(first: 5) { nodes { description } } }`)).errors).toBeUndefined();
  });

  test('memory stays bounded: the largest anonymous queries there are, eight at a time, keep RSS within 64 MB of idle', async () => {
    // The largest answer an anonymous client can get: as many full pages of the longest
    // field as the cost limit allows (each alias costs 1 + 100 × (1 + 1 + 50) = 5,201 of 20,000),
    // sent alongside the refused nested attack.
    const largest = `{ ${[1, 2, 3].map((i) => `p${i}: products(first: 100) { nodes { id description } }`).join(' ')} }`;
    const warm = await gql(fx.api, largest);
    expect(warm.errors).toBeUndefined();
    expect(JSON.stringify(warm.data).length).toBeGreaterThan(1_000_000); // it is large: about 1.5 MB
    (globalThis as { gc?: () => void }).gc?.();
    const idle = process.memoryUsage().rss;
    let peak = idle;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    const started = Date.now();
    try {
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all([
          ...Array.from({ length: 8 }, () => gql(fx.api, largest)),
          gql(fx.api, NESTED, { n: 100 }),
          gql(fx.api, NESTED, { n: 100 }),
        ]);
        expect(answers.slice(0, 8).every((a) => !a.errors)).toBe(true);
        expect(answers.slice(8).every((a) => codes(a)[0] === 'BAD_USER_INPUT')).toBe(true);
      }
    } finally {
      clearInterval(sampler);
    }
    const grewMb = (peak - idle) / 1024 / 1024;
    process.stdout.write(`largest anonymous queries: RSS ${Math.round(idle / 1048576)} MB idle, +${grewMb.toFixed(1)} MB peak, ${Date.now() - started} ms for 30\n`);
    expect(grewMb).toBeLessThan(64);
  }, 120_000);
});

// ------------------------------------------------------------------------------ point 3
describe('who reads what (point 3)', () => {
  let orderId = '';
  const ADDRESS = 'House 14 gate B, Jane Wanjiru, Kilimani';
  const NOTE = 'Deliver to Jane Wanjiru, 0722 555 010';
  const FAILURE = 'Request cancelled by user JANE WANJIRU';
  const PAYOUT_REASON = 'Paid to 254711000222 - JOHN KAMAU';

  beforeAll(async () => {
    orderId = await fundedNativeOrder(ADDRESS);
    const ship = await gql(fx.api, `mutation($id: ID!, $t: TrackingInput) { prepareMarkShipped(orderId: $id, tracking: $t) { call { to data } } }`,
      { id: orderId, t: { carrier: 'G4S Kenya', trackingNumber: 'G4S-777', note: NOTE } }, { token: tokens.seller });
    await fx.sendAs(SELLER.privateKey as Hex, ship.data.prepareMarkShipped.call);
    await fx.catchUp();
    const ev = await gql(fx.api, `mutation($id: ID!, $i: EvidenceInput!) { addEvidence(orderId: $id, input: $i) { id } }`,
      { id: orderId, i: { filename: 'jane-id.png', mimeType: 'image/png', contentBase64: Buffer.from('photo').toString('base64'), note: NOTE } }, { token: tokens.buyer });
    expect(ev.errors).toBeUndefined();
    // The oracle's records of an M-Pesa order between BUYER and SELLER: a failed attempt
    // naming the payer, and a payout whose result text names the recipient.
    await fx.pool.query(
      `INSERT INTO oracle.payment_requests (id, order_id, buyer, seller, amount_kes, phone, seller_phone, account_reference, status, checkout_request_id, failure_reason, expires_at, created_at)
       VALUES (gen_random_uuid(), $1, $2, $3, 1000, '254722555010', '254711000222', 'DSFAILED', 'failed', 'ws_CO_0712202612000000000722555010', $4, now(), now() + interval '1 hour')`,
      [QUERY_PAID.orderId, lc(BUYER.address), lc(SELLER.address), FAILURE],
    );
    await fx.pool.query(
      `INSERT INTO oracle.payouts (id, order_id, beneficiary, role, phone, amount_kes, originator_conversation_id, status, result_code, reason, attempt, mpesa_receipt)
       VALUES (gen_random_uuid(), $1, $2, 'seller', '254711000222', 900, 'abuse-test-payout', 'succeeded', '0', $3, 1, 'RCPTPAYOUT1')`,
      [MISMATCH.orderId, lc(SELLER.address), PAYOUT_REASON],
    );
  });

  /** Each private field: the query, where the value is, and who owns it. Everyone else gets null, [] or a refusal. */
  const FIELDS: { field: string; query: string; id: () => string; pick: (d: any) => unknown; owner: 'buyer' | 'seller' }[] = [
    { field: 'Order.deliveryAddress', query: `query($id: ID!) { order(id: $id) { deliveryAddress } }`, id: () => orderId, pick: (d) => d?.order?.deliveryAddress, owner: 'buyer' },
    { field: 'Order.buyerPhone', query: `query($id: ID!) { order(id: $id) { buyerPhone } }`, id: () => QUERY_PAID.orderId, pick: (d) => d?.order?.buyerPhone, owner: 'buyer' },
    { field: 'Order.tracking', query: `query($id: ID!) { order(id: $id) { tracking { carrier trackingNumber note } } }`, id: () => orderId, pick: (d) => d?.order?.tracking, owner: 'buyer' },
    { field: 'Order.evidence', query: `query($id: ID!) { order(id: $id) { evidence { filename note } } }`, id: () => orderId, pick: (d) => d?.order?.evidence?.[0], owner: 'buyer' },
    { field: 'MpesaPayment.checkoutRequestId', query: `query($id: ID!) { order(id: $id) { mpesaPayment { checkoutRequestId } } }`, id: () => QUERY_PAID.orderId, pick: (d) => d?.order?.mpesaPayment?.checkoutRequestId, owner: 'buyer' },
    { field: 'MpesaPayment.failureReason', query: `query($id: ID!) { order(id: $id) { mpesaPayment { failureReason } } }`, id: () => QUERY_PAID.orderId, pick: (d) => d?.order?.mpesaPayment?.failureReason, owner: 'buyer' },
    { field: 'MpesaPayment.receipt', query: `query($id: ID!) { order(id: $id) { mpesaPayment { receipt } } }`, id: () => MISMATCH.orderId, pick: (d) => d?.order?.mpesaPayment?.receipt, owner: 'seller' },
    { field: 'MpesaPayout.reason', query: `query($id: ID!) { order(id: $id) { mpesaPayouts { reason } } }`, id: () => MISMATCH.orderId, pick: (d) => d?.order?.mpesaPayouts?.find((p: any) => p.reason)?.reason, owner: 'seller' },
    { field: 'MpesaPayout.receipt', query: `query($id: ID!) { order(id: $id) { mpesaPayouts { receipt } } }`, id: () => MISMATCH.orderId, pick: (d) => d?.order?.mpesaPayouts?.find((p: any) => p.receipt)?.receipt, owner: 'seller' },
    { field: 'User.phone', query: `query($id: String!) { user(address: $id) { phone } }`, id: () => SELLER.address, pick: (d) => d?.user?.phone, owner: 'seller' },
    { field: 'User.kyc', query: `query($id: String!) { user(address: $id) { kyc { state } } }`, id: () => SELLER.address, pick: (d) => d?.user?.kyc, owner: 'seller' },
  ];

  test.each(FIELDS.map((f) => [f.field, f] as const))('attack: %s, asked anonymously and as a stranger, is not given; its owner and admins get it', async (_name, f) => {
    const owner = await gql(fx.api, f.query, { id: f.id() }, { token: tokens[f.owner] });
    const value = f.pick(owner.data);
    expect(value ?? null).not.toBeNull();
    const secret = JSON.stringify(value);
    expect(f.pick((await gql(fx.api, f.query, { id: f.id() }, { token: tokens.admin })).data)).toEqual(value);
    for (const who of [undefined, tokens.stranger]) {
      const r = await gql(fx.api, f.query, { id: f.id() }, { token: who });
      expect(f.pick(r.data) ?? null).toBeNull();
      expect(JSON.stringify(r)).not.toContain(secret.slice(1, -1));
      for (const c of codes(r)) expect(['FORBIDDEN', 'UNAUTHENTICATED']).toContain(c);
    }
  });

  test("attack: the buyer's phone digits are nowhere in what a stranger or anonymous client can read of an order", async () => {
    const everything = `query($id: ID!) { order(id: $id) { id status amount trackingCid evidenceCid paymentReceiptHash metadataCid
      buyer { address displayName phone } seller { address displayName phone }
      mpesaPayment { orderId status checkoutRequestId receipt amountKes failureReason createdAt paidAt }
      mpesaPayouts { orderId role amountKes status receipt reason attempt createdAt completedAt }
      events { kind args { name value } } } }`;
    for (const id of [QUERY_PAID.orderId, MISMATCH.orderId]) {
      for (const who of [undefined, tokens.stranger]) {
        const text = JSON.stringify((await gql(fx.api, everything, { id }, { token: who })).data);
        for (const digits of ['708374149', '722555010', '711000222', 'JANE', 'JOHN KAMAU', 'RCPT']) expect(text).not.toContain(digits);
      }
    }
  });
});

// ------------------------------------------------------------------------------ point 4
describe('live streams (point 4)', () => {
  const PRIVATE = `subscription($id: ID!) { orderUpdated(id: $id) { status order { deliveryAddress } } }`;
  const USER = { address: ANVIL_ACCOUNTS[9]!.address, privateKey: ANVIL_ACCOUNTS[9]!.privateKey };
  let orderId = '';
  beforeAll(async () => {
    // Wait until the watcher has relayed the funding: a stream opened afterwards gets no
    // event but the ones a test makes (an event before the logout would be the session's own).
    let relayed = 0;
    const advances = fx.api.deps.watcher.pubsub.subscribe('indexAdvanced')[Symbol.asyncIterator]();
    const relaying = (async () => {
      for (let n = await advances.next(); !n.done; n = await advances.next()) relayed = Math.max(relayed, n.value.lastProcessedHeight);
    })();
    orderId = await fundedNativeOrder('Kenyatta Ave 1, Nakuru');
    const head = await fx.chain.head();
    await eventually(async () => relayed, (h) => h >= head, 10_000, 'the watcher to relay the funding');
    await advances.return?.();
    await relaying;
  });

  test('attack: after logoutEverywhere on another API instance, an open orderUpdated stream ends at once', async () => {
    const s = await subscribe(fx.api, PRIVATE, { id: orderId }, { token: tokens.buyer, peer: '10.9.0.1' });
    try {
      await eventually(async () => s.seen.length, (n) => n >= 1, 10_000, 'the first event');
      expect(s.seen[0].data.orderUpdated.order.deliveryAddress).toBe('Kenyatta Ave 1, Nakuru');
      const other = await fx.makeApi();
      const buyerAgain = await login(other, BUYER); // a session on the other instance: logoutEverywhere ends both
      const at = Date.now();
      expect((await gql(other, 'mutation { logoutEverywhere }', {}, { token: buyerAgain })).data.logoutEverywhere).toBeGreaterThanOrEqual(2);
      await eventually(async () => s.state.ended, (e) => e, 5_000, 'the stream to end');
      expect(s.state.endedAt - at).toBeLessThan(2_000);
      expect(s.seen.slice(1).every((e) => !e.data?.orderUpdated?.order?.deliveryAddress)).toBe(true);
    } finally {
      await s.close();
      tokens.buyer = await login(fx.api, BUYER); // the rest of the file signs in again
    }
  });

  test('attack: an event already being prepared when logoutEverywhere lands on another instance is not delivered', async () => {
    const s = await subscribe(fx.api, PRIVATE, { id: orderId }, { token: tokens.buyer, peer: '10.9.0.3' });
    const other = await fx.makeApi();
    const held = await fx.pool.connect();
    try {
      await eventually(async () => s.seen.length, (n) => n >= 1, 10_000, 'the first event');
      expect(s.seen[0].data.orderUpdated.order.deliveryAddress).toBe('Kenyatta Ave 1, Nakuru');
      const buyerAgain = await login(other, BUYER);
      // Hold the index's orders table: the next event passes its session check, then waits to load the order.
      await held.query('BEGIN');
      await held.query(`LOCK TABLE "${fx.schema}".orders IN ACCESS EXCLUSIVE MODE`);
      // The index moves the order: what the watcher publishes, and every instance relays to its streams.
      const head = await fx.chain.head();
      await other.deps.redis.publish(`${other.deps.config.REDIS_PREFIX}order-updated`, JSON.stringify({ lastProcessedHeight: head, changes: [{ id: orderId, status: 'FUNDED', updatedBlock: head }] }));
      const apiRole = decodeURIComponent(new URL(fx.config.DATABASE_URL!).username);
      await eventually(
        async () => (await fx.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock'`, [apiRole])).rows[0].n,
        (n) => n > 0, 10_000, 'the event to wait on the order',
      );
      expect((await gql(other, 'mutation { logoutEverywhere }', {}, { token: buyerAgain })).data.logoutEverywhere).toBeGreaterThanOrEqual(2);
      const seenBefore = s.seen.length;
      await held.query('COMMIT');
      await eventually(async () => s.state.ended, (e) => e, 5_000, 'the stream to end');
      const after = s.seen.slice(seenBefore);
      expect(after.every((e) => !e.data?.orderUpdated?.order?.deliveryAddress)).toBe(true);
      // In its place: why the stream ends (once from the last check, and again if the announcement got there too).
      expect(after.length).toBeGreaterThan(0);
      expect(after.every((e) => e.errors?.[0]?.extensions?.code === 'UNAUTHENTICATED' && !e.data)).toBe(true);
    } finally {
      await held.query('ROLLBACK').catch(() => undefined);
      held.release();
      await s.close();
      tokens.buyer = await login(fx.api, BUYER); // the rest of the file signs in again
    }
  });

  test('attack: a stream ends when the token it was opened with expires', async () => {
    const short = await fx.makeApi({ JWT_TTL: '2s' });
    const token = await login(short, USER);
    const s = await subscribe(short, `subscription { indexAdvanced { lastProcessedHeight } }`, {}, { token, peer: '10.9.0.2' });
    try {
      await eventually(async () => s.state.ended, (e) => e, 6_000, 'the stream to end at the token expiry');
    } finally {
      await s.close();
    }
  });

  test('attack: streams a client hangs up on at once (before their first event) do not keep their place: the IP is not locked out', async () => {
    const api = await fx.makeApi({ API_MAX_STREAMS_PER_IP: '3', API_TRUST_PROXY: '' });
    const port = await freePort();
    const http = await listen(api, { ...api.deps.config, API_PORT: port, API_HOST: '127.0.0.1', API_METRICS_PORT: 0 });
    const body = JSON.stringify({ query: 'subscription { indexAdvanced { lastProcessedHeight } }' });
    try {
      // Open a stream and hang up straight away, at slightly different moments, again and again.
      for (let i = 0; i < 30; i++) {
        await new Promise<void>((done) => {
          const req = httpRequest({ host: '127.0.0.1', port, path: '/graphql', method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'content-length': Buffer.byteLength(body) } });
          const hangUp = () => (req.destroy(), done());
          req.on('error', () => done());
          req.on('response', hangUp);
          req.end(body);
          if (i % 2) setImmediate(hangUp);
          else setTimeout(hangUp, 1);
        });
      }
      await eventually(async () => api.deps.streams.size, (n) => n === 0, 5_000, 'every abandoned stream to free its place');
      // The same address still gets a stream.
      const res = await fetch(`http://127.0.0.1:${port}/graphql`, { method: 'POST', body, headers: { 'content-type': 'application/json', accept: 'text/event-stream' } });
      const reader = res.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      expect(first).not.toMatch(/RATE_LIMITED/);
    } finally {
      await http.close();
    }
  }, 60_000);

  test('attack: open streams are capped per IP and per user; a closed one frees its place', async () => {
    const capped = await fx.makeApi({ API_MAX_STREAMS_PER_IP: '3', API_MAX_STREAMS_PER_USER: '2' });
    const Q = `subscription { indexAdvanced { lastProcessedHeight } }`;
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await subscribe(capped, Q, {}, { peer: '10.9.1.1' }));
    const fourth = await subscribe(capped, Q, {}, { peer: '10.9.1.1' });
    await eventually(async () => fourth.state.ended, (e) => e, 5_000, 'the refused stream to end');
    expect(fourth.seen.length).toBeLessThanOrEqual(1);
    expect(fourth.seen[0]?.errors?.[0]?.extensions?.code ?? 'RATE_LIMITED').toBe('RATE_LIMITED');
    const elsewhere = await subscribe(capped, Q, {}, { peer: '10.9.1.2' });
    expect(elsewhere.state.ended).toBe(false);
    await open[0]!.close();
    await eventually(async () => {
      const again = await subscribe(capped, Q, {}, { peer: '10.9.1.1' });
      await new Promise((r) => setTimeout(r, 200));
      const ok = !again.state.ended;
      open.push(again);
      return ok;
    }, (ok) => ok, 5_000, 'a place to free up');
    const token = await login(capped, USER);
    const mine = [await subscribe(capped, Q, {}, { token, peer: '10.9.2.1' }), await subscribe(capped, Q, {}, { token, peer: '10.9.2.2' })];
    const third = await subscribe(capped, Q, {}, { token, peer: '10.9.2.3' });
    await eventually(async () => third.state.ended, (e) => e, 5_000, 'the third stream of one user to be refused');
    for (const s of [...open, elsewhere, fourth, ...mine, third]) await s.close();
  });
});

// ------------------------------------------------------------------------------ point 5
describe('sign-in challenges (point 5)', () => {
  test("attack: anonymous challenges for the victim's address from elsewhere neither evict the victim's nor lock them out", async () => {
    const victim = { address: ANVIL_ACCOUNTS[5]!.address, privateKey: ANVIL_ACCOUNTS[5]!.privateKey };
    const sign = (m: string) => privateKeyToAccount(victim.privateKey as Hex).signMessage({ message: m });
    for (const withNonce of [true, false]) {
      const mine = await gql(fx.api, CHALLENGE, { a: victim.address }, { peer: '10.5.0.1' });
      for (let i = 0; i < 8; i++) await gql(fx.api, CHALLENGE, { a: victim.address }, { peer: '10.6.6.6' });
      const signature = await sign(mine.data.requestLoginChallenge.message);
      const r = await gql(fx.api, LOGIN, { a: victim.address, s: signature, ...(withNonce ? { n: mine.data.requestLoginChallenge.nonce } : {}) }, { peer: '10.5.0.1' });
      expect(r.errors).toBeUndefined();
      expect(r.data.login.user.address).toBe(lc(victim.address));
    }
  });

  test('one client cannot fill the table: challenges are counted per client IP, whatever the address', async () => {
    const tight = await fx.makeApi({ LOGIN_CHALLENGES_PER_IP: '3' });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await gql(tight, CHALLENGE, { a: ANVIL_ACCOUNTS[i]!.address }, { peer: '10.7.7.7' }));
    expect(answers.map((a) => codes(a)[0] ?? 'ok')).toEqual(['ok', 'ok', 'ok', 'RATE_LIMITED']);
    expect(codes(await gql(tight, CHALLENGE, { a: ANVIL_ACCOUNTS[0]!.address }, { peer: '10.7.7.8' }))).toEqual([]);
  });
});

// ------------------------------------------------------------------------------ point 8
describe('limits and sessions (point 8)', () => {
  test('attack: a spoofed X-Forwarded-For does not step around the per-IP limit behind a trusted proxy', async () => {
    const api = await fx.makeApi({ API_TRUST_PROXY: 'loopback', RATE_LIMIT_PER_IP: '20' });
    const port = await freePort();
    const http = await listen(api, { ...api.deps.config, API_PORT: port, API_HOST: '127.0.0.1', API_METRICS_PORT: 0 });
    try {
      // The test is the proxy (loopback, trusted): it appends the address it saw, after whatever the client wrote.
      const statuses: number[] = [];
      for (let i = 0; i < 60; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST', body: JSON.stringify({ query: '{ __typename }' }),
          headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${i}, 203.0.113.7` },
        });
        statuses.push(res.status);
        await res.arrayBuffer();
      }
      expect(statuses.filter((s) => s === 429)).toHaveLength(40);
    } finally {
      await http.close();
    }
  });

  test('attack: a flood of GET /health costs one dependency check, not one per request', async () => {
    const api = await fx.makeApi();
    await api.yoga.fetch('http://api.test/health');
    const before = api.deps.stats.queries;
    const answers = await Promise.all(Array.from({ length: 50 }, () => api.yoga.fetch('http://api.test/health')));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(api.deps.stats.queries - before).toBeLessThanOrEqual(5); // (the index watcher may tick meanwhile)
  });

  test('attack: while Redis is down, requests fail fast, the limits still hold, and a logout made then stays in force when Redis returns', async () => {
    const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    const proxy = await startTcpProxy({ host: redisUrl.hostname, port: Number(redisUrl.port || 6379) });
    // Its own key prefix: only this test's requests count against its limits.
    const api = await fx.makeApi({ REDIS_URL: proxy.url, RATE_LIMIT_PER_IP: '6', REDIS_PREFIX: `descrow:redis-down-${randomUUID()}:` });
    try {
      await eventually(async () => api.deps.redis.status, (s) => s === 'ready', 5_000, 'redis ready');
      const USER = { address: ANVIL_ACCOUNTS[4]!.address, privateKey: ANVIL_ACCOUNTS[4]!.privateKey };
      const session = await signIn(api, USER);
      await proxy.down();
      const timings: number[] = [];
      const statuses: number[] = [];
      for (let i = 0; i < 8; i++) {
        const t = Date.now();
        statuses.push((await gql(api, '{ __typename }', {}, { peer: '10.8.8.8' })).status);
        timings.push(Date.now() - t);
      }
      expect(Math.max(...timings)).toBeLessThan(500);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
      // Logout while Redis is down: Postgres records it and decides.
      const out = await gql(api, 'mutation { logout }', {}, { token: session.token, peer: '10.8.8.9' });
      expect(out.data?.logout).toBe(true);
      expect(codes(await gql(api, '{ me { address } }', {}, { token: session.token, peer: '10.8.8.9' }))).toEqual(['UNAUTHENTICATED']);
      await proxy.up();
      await eventually(async () => api.deps.redis.status, (s) => s === 'ready', 10_000, 'redis back');
      // From now on Redis answers again; the logout must still hold, every time.
      for (let i = 0; i < 10; i++) {
        expect(codes(await gql(api, '{ me { address } }', {}, { token: session.token, peer: `10.8.9.${i}` }))).toEqual(['UNAUTHENTICATED']);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await proxy.close();
    }
  }, 60_000);

  test('a user who logs out everywhere and signs straight back in (the same second) is signed in; the old tokens stay refused', async () => {
    const USER = { address: ANVIL_ACCOUNTS[8]!.address, privateKey: ANVIL_ACCOUNTS[8]!.privateKey };
    let sameSecond = 0;
    for (let round = 0; round < 3; round++) {
      const old = await signIn(fx.api, USER);
      // Start near the top of a second, so the logout and the new sign-in share it.
      await eventually(async () => Date.now() % 1000, (ms) => ms < 300, 3_000, 'the start of a second');
      const second = Math.floor(Date.now() / 1000);
      expect((await gql(fx.api, 'mutation { logoutEverywhere }', {}, { token: old.token })).data.logoutEverywhere).toBeGreaterThanOrEqual(1);
      const fresh = await signIn(fx.api, USER);
      if (Math.floor(Date.now() / 1000) === second) sameSecond++;
      const me = await gql(fx.api, '{ me { address } }', {}, { token: fresh.token });
      expect(me.errors).toBeUndefined();
      expect(me.data.me.address).toBe(lc(USER.address));
      expect(codes(await gql(fx.api, '{ me { address } }', {}, { token: old.token }))).toEqual(['UNAUTHENTICATED']);
      expect(codes(await gql(fx.api, `mutation($r: String!) { refreshSession(refreshToken: $r) { token } }`, { r: old.refreshToken }))).toEqual(['UNAUTHENTICATED']);
      // The fresh session refreshes like any other.
      const next = await gql(fx.api, `mutation($r: String!) { refreshSession(refreshToken: $r) { token } }`, { r: fresh.refreshToken });
      expect((await gql(fx.api, '{ me { address } }', {}, { token: next.data.refreshSession.token })).data.me.address).toBe(lc(USER.address));
    }
    expect(sameSecond).toBeGreaterThan(0); // the case the old check refused happened
  });

  test('attack: refreshSession racing logoutEverywhere cannot yield an access token that outlives the logout', async () => {
    const USER = { address: ANVIL_ACCOUNTS[3]!.address, privateKey: ANVIL_ACCOUNTS[3]!.privateKey };
    const s = await signIn(fx.api, USER);
    const held = await fx.pool.connect();
    try {
      // Hold the refresh token's row: the refresh has read its session (not revoked) and waits to use the token.
      await held.query('BEGIN');
      await held.query('SELECT 1 FROM app.refresh_tokens WHERE token_hash = $1 FOR UPDATE', [createHash('sha256').update(s.refreshToken).digest('hex')]);
      const refreshing = gql(fx.api, `mutation($r: String!) { refreshSession(refreshToken: $r) { token } }`, { r: s.refreshToken });
      await eventually(async () => (await fx.pool.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n, (n) => n > 0, 10_000, 'the refresh to wait');
      expect((await gql(fx.api, 'mutation { logoutEverywhere }', {}, { token: s.token })).data.logoutEverywhere).toBeGreaterThanOrEqual(1);
      const loggedOutAt = Math.floor(Date.now() / 1000);
      // A token signed in a later second than the logout is what the old check let through.
      await eventually(async () => Math.floor(Date.now() / 1000), (now) => now > loggedOutAt, 3_000, 'the next second');
      await held.query('COMMIT');
      const r = await refreshing;
      const token: string | undefined = r.data?.refreshSession?.token;
      if (token) expect(codes(await gql(fx.api, '{ me { address } }', {}, { token }))).toEqual(['UNAUTHENTICATED']);
      else expect(codes(r)).toEqual(['UNAUTHENTICATED']);
    } finally {
      await held.query('ROLLBACK').catch(() => undefined);
      held.release();
    }
  });
});

// ------------------------------------------------------------------------------ point 9
describe('the KYC limit on what an order is worth (point 9)', () => {
  test('attack: a seller without KYC lists at the limit and a buyer orders five: refused on the order value', async () => {
    const limit = fx.config.KYC_REQUIRED_ABOVE_KES;
    const p = await gql(fx.api, CREATE_PRODUCT, { i: { title: 'Soapstone set', priceKes: limit, priceNative: fx.config.KYC_REQUIRED_ABOVE_NATIVE } }, { token: tokens.seller });
    expect(p.errors).toBeUndefined();
    const productId = p.data.createProduct.id;
    for (const paymentMode of ['MPESA', 'NATIVE']) {
      const five = await gql(fx.api, CREATE_ORDER, { i: { productId, quantity: 5, paymentMode, deliveryAddress: 'Tom Mboya St 5, Nairobi' } }, { token: tokens.buyer });
      expect(codes(five)).toEqual(['FORBIDDEN']);
      expect(five.errors![0]!.message).toMatch(/KYC/);
      const one = await gql(fx.api, CREATE_ORDER, { i: { productId, quantity: 1, paymentMode, deliveryAddress: 'Tom Mboya St 5, Nairobi' } }, { token: tokens.buyer });
      expect(one.errors).toBeUndefined();
    }
  });

  test("attack: rejecting a seller's KYC takes their listings above the limit off sale", async () => {
    const seller = { address: ANVIL_ACCOUNTS[7]!.address, privateKey: ANVIL_ACCOUNTS[7]!.privateKey };
    const token = await login(fx.api, seller);
    const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
    await gql(fx.api, `mutation($i: KycDocumentInput!) { submitKycDocument(input: $i) { state } }`, { i: { kind: 'NATIONAL_ID', filename: 'id.png', mimeType: 'image/png', contentBase64: PNG } }, { token });
    const REVIEW = `mutation($a: String!, $i: KycReviewInput!) { reviewKyc(address: $a, input: $i) { state } }`;
    expect((await gql(fx.api, REVIEW, { a: seller.address, i: { decision: 'APPROVE' } }, { token: tokens.admin })).data.reviewKyc.state).toBe('APPROVED');
    const dear = (await gql(fx.api, CREATE_PRODUCT, { i: { title: 'Teak chest', priceKes: fx.config.KYC_REQUIRED_ABOVE_KES * 2 } }, { token })).data.createProduct.id;
    const cheap = (await gql(fx.api, CREATE_PRODUCT, { i: { title: 'Teak spoon', priceKes: 500 } }, { token })).data.createProduct.id;
    expect((await gql(fx.api, REVIEW, { a: seller.address, i: { decision: 'REJECT', reason: 'document forged' } }, { token: tokens.admin })).data.reviewKyc.state).toBe('REJECTED');
    const P = `query($id: ID!) { product(id: $id) { active } }`;
    expect((await gql(fx.api, P, { id: dear })).data.product.active).toBe(false);
    expect((await gql(fx.api, P, { id: cheap })).data.product.active).toBe(true);
    const order = await gql(fx.api, CREATE_ORDER, { i: { productId: dear, paymentMode: 'MPESA', deliveryAddress: 'Moi Avenue 3, Nairobi' } }, { token: tokens.buyer });
    expect(codes(order)).toEqual(['CONFLICT']);
    const audit = (await gql(fx.api, `{ auditLog(first: 1, action: "kyc.reject") { nodes { details } } }`, {}, { token: tokens.admin })).data.auditLog.nodes[0];
    expect(audit.details.productsOffSale).toEqual([dear]);
  });
});
