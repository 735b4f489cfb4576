/**
 * The API end to end, through `yoga.fetch`, against one shared world: real Postgres and
 * Redis, real anvil + Escrow, orders of both payment modes, the real SubQuery node,
 * the real oracle with the Daraja simulator. Describe blocks share the fixture.
 */
import './support/prisma';
import { privateKeyToAccount } from 'viem/accounts';
import type { Hex } from 'viem';
import { encodeFunctionData } from 'viem';
import { escrowAbi, orderIdFor, payoutSplit, receiptHash } from '@descrow/contracts';
import { rawCidV1 } from '../src/data/contentStore';
import { readOrders } from '../../indexer/scripts/chain';
import { ADMIN, BUYER, BUYER_PHONE, MISMATCH, QUERY_PAID, SELLER, SELLER_PHONE, STRANGER, UNRECORDED, startFixture, type Fixture } from './support/fixture';
import { randomBytes, randomUUID } from 'node:crypto';
import { ANVIL_ACCOUNTS, DEV_ROLES, freePort } from '@descrow/common';
import { listen } from '../src/serve';
import { Tokens } from '../src/auth/jwt';
import { CHALLENGE, LOGIN, codes, eventually, gql, login, signIn } from './support/client';

let fx: Fixture;
const tokens: Record<'buyer' | 'seller' | 'admin' | 'stranger', string> = { buyer: '', seller: '', admin: '', stranger: '' };

beforeAll(async () => {
  fx = await startFixture('main');
  tokens.buyer = await login(fx.api, BUYER);
  tokens.seller = await login(fx.api, SELLER);
  tokens.admin = await login(fx.api, ADMIN);
  tokens.stranger = await login(fx.api, STRANGER);
}, 150_000);

afterAll(async () => {
  await fx?.stop();
});

const lc = (a: string) => a.toLowerCase();

// ------------------------------------------------------------------------------ identity

/** A GraphQL subscription over SSE on the in-process API: every `next` event's payload, with when it arrived. */
async function subscribeSse(query: string, variables: Record<string, unknown>): Promise<{ seen: { data: any; at: number }[]; close: () => Promise<void> }> {
  const seen: { data: any; at: number }[] = [];
  const abort = new AbortController();
  const res = await fx.api.yoga.fetch('http://api.test/graphql', {
    method: 'POST', signal: abort.signal,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
  });
  expect(res.status).toBe(200);
  const reader = res.body!.getReader();
  const reading = (async () => {
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buf += new TextDecoder().decode(value);
      let i: number;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = chunk.split('\n').find((l) => l.startsWith('data:'));
        if (data && chunk.includes('event: next')) seen.push({ data: JSON.parse(data.slice(5)).data, at: Date.now() });
      }
    }
  })();
  return {
    seen,
    close: async () => {
      abort.abort();
      await reader.cancel().catch(() => undefined);
      await Promise.race([reading, new Promise((r) => setTimeout(r, 1_000))]);
    },
  };
}

describe('identity', () => {
  test('login returns a JWT with the roles; me answers with the profile', async () => {
    const me = await gql(fx.api, '{ me { address roles } }', {}, { token: tokens.admin });
    expect(me.data.me).toEqual({ address: lc(ADMIN.address), roles: ['BUYER', 'SELLER', 'ADMIN'] });
    const buyer = await gql(fx.api, '{ me { address roles } }', {}, { token: tokens.buyer });
    expect(buyer.data.me.roles).toEqual(['BUYER', 'SELLER']);
  });

  test('the challenge is an EIP-4361 message naming domain, address, nonce, issue and expiry', async () => {
    const c = await gql(fx.api, CHALLENGE, { a: BUYER.address });
    const m: string = c.data.requestLoginChallenge.message;
    expect(m).toMatch(/^localhost:4000 wants you to sign in with your Ethereum account:\n0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65\n/);
    expect(m).toContain(`Nonce: ${c.data.requestLoginChallenge.nonce}`);
    expect(m).toMatch(/Issued At: \d{4}-.*Z\nExpiration Time: \d{4}-.*Z$/);
    expect(new Date(c.data.requestLoginChallenge.expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(5 * 60_000);
  });

  test('a signature by another key is refused', async () => {
    const c = await gql(fx.api, CHALLENGE, { a: BUYER.address });
    const forged = await privateKeyToAccount(STRANGER.privateKey as Hex).signMessage({ message: c.data.requestLoginChallenge.message });
    const r = await gql(fx.api, LOGIN, { a: BUYER.address, s: forged });
    expect(codes(r)).toEqual(['UNAUTHENTICATED']);
    expect(r.errors![0]!.message).toMatch(/signature does not match/);
  });

  test('a nonce works once: replaying the same signature is refused', async () => {
    const c = await gql(fx.api, CHALLENGE, { a: SELLER.address });
    const sig = await privateKeyToAccount(SELLER.privateKey as Hex).signMessage({ message: c.data.requestLoginChallenge.message });
    const first = await gql(fx.api, LOGIN, { a: SELLER.address, s: sig, n: c.data.requestLoginChallenge.nonce });
    expect(first.data.login.token).toBeTruthy();
    const again = await gql(fx.api, LOGIN, { a: SELLER.address, s: sig, n: c.data.requestLoginChallenge.nonce });
    expect(codes(again)).toEqual(['UNAUTHENTICATED']);
    expect(again.errors![0]!.message).toMatch(/already used/);
  });

  test('an expired challenge is refused', async () => {
    const short = await fx.makeApi({ LOGIN_CHALLENGE_TTL: '1s' });
    const c = await gql(short, CHALLENGE, { a: STRANGER.address });
    const sig = await privateKeyToAccount(STRANGER.privateKey as Hex).signMessage({ message: c.data.requestLoginChallenge.message });
    await new Promise((r) => setTimeout(r, 1_100));
    const r = await gql(short, LOGIN, { a: STRANGER.address, s: sig });
    expect(codes(r)).toEqual(['UNAUTHENTICATED']);
    expect(r.errors![0]!.message).toMatch(/expired/);
  });

  test('an expired or tampered token is refused with the reason', async () => {
    const old = await fx.api.deps.tokens.sign({ address: lc(BUYER.address), roles: ['BUYER', 'SELLER'], sessionId: randomUUID() }, Date.now() - 13 * 3600_000);
    const r = await gql(fx.api, '{ me { address } }', {}, { token: old.token });
    expect(codes(r)).toEqual(['UNAUTHENTICATED']);
    expect(r.errors![0]!.message).toBe('token expired');
    const [h, p] = tokens.buyer.split('.');
    const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: lc(STRANGER.address), roles: ['ADMIN'], iss: 'descrow-api', exp: 9e9 })).toString('base64url')}.${tokens.buyer.split('.')[2]}`;
    const t = await gql(fx.api, '{ me { address } }', {}, { token: tampered });
    expect(t.errors![0]!.message).toBe('invalid token');
    expect(p).toBeTruthy();
  });

  describe('sessions', () => {
    const REFRESH = `mutation($r: String!) { refreshSession(refreshToken: $r) { token refreshToken user { address } } }`;
    const ME = '{ me { address } }';
    const USER = { address: ANVIL_ACCOUNTS[8]!.address, privateKey: ANVIL_ACCOUNTS[8]!.privateKey };

    test('a refresh token renews the access token once; reusing it signs the whole session out', async () => {
      const first = await signIn(fx.api, USER);
      const next = await gql(fx.api, REFRESH, { r: first.refreshToken });
      expect(next.errors).toBeUndefined();
      const renewed = next.data.refreshSession;
      expect(renewed.refreshToken).not.toBe(first.refreshToken);
      expect((await gql(fx.api, ME, {}, { token: renewed.token })).data.me.address).toBe(lc(USER.address));
      // The attacker (or a confused client) replays the used token: the family is revoked.
      const replay = await gql(fx.api, REFRESH, { r: first.refreshToken });
      expect(codes(replay)).toEqual(['UNAUTHENTICATED']);
      expect(replay.errors![0]!.message).toMatch(/already used/);
      for (const t of [first.token, renewed.token]) expect(codes(await gql(fx.api, ME, {}, { token: t }))).toEqual(['UNAUTHENTICATED']);
      expect(codes(await gql(fx.api, REFRESH, { r: renewed.refreshToken }))).toEqual(['UNAUTHENTICATED']);
      const rows = await fx.pool.query(`SELECT token_hash FROM app.refresh_tokens WHERE session_id = (SELECT id FROM app.sessions WHERE address=$1 ORDER BY created_at DESC LIMIT 1)`, [lc(USER.address)]);
      expect(rows.rows.every((r: { token_hash: string }) => /^[0-9a-f]{64}$/.test(r.token_hash) && r.token_hash !== first.refreshToken)).toBe(true);
      expect(codes(await gql(fx.api, REFRESH, { r: 'x'.repeat(43) }))).toEqual(['UNAUTHENTICATED']);
      expect(codes(await gql(fx.api, REFRESH, { r: 'not a token' }))).toEqual(['BAD_USER_INPUT']);
    });

    test('logout ends the session at once, on another API instance too; other sessions stay', async () => {
      const other = await fx.makeApi();
      const a = await signIn(fx.api, USER);
      const b = await signIn(fx.api, USER);
      expect((await gql(other, ME, {}, { token: a.token })).data.me).toBeTruthy();
      expect((await gql(fx.api, 'mutation { logout }', {}, { token: a.token })).data.logout).toBe(true);
      for (const api of [fx.api, other]) {
        const r = await gql(api, ME, {}, { token: a.token });
        expect(codes(r)).toEqual(['UNAUTHENTICATED']);
        expect(r.errors![0]!.message).toMatch(/signed out/);
        expect((await gql(api, ME, {}, { token: b.token })).data.me.address).toBe(lc(USER.address));
      }
      expect(codes(await gql(fx.api, REFRESH, { r: a.refreshToken }))).toEqual(['UNAUTHENTICATED']);
    });

    test('log out everywhere ends every session of the address, and nobody else\'s', async () => {
      const a = await signIn(fx.api, USER);
      const b = await signIn(fx.api, USER);
      const n = await gql(fx.api, 'mutation { logoutEverywhere }', {}, { token: b.token });
      expect(n.data.logoutEverywhere).toBeGreaterThanOrEqual(2);
      for (const t of [a.token, b.token]) expect(codes(await gql(fx.api, ME, {}, { token: t }))).toEqual(['UNAUTHENTICATED']);
      expect(codes(await gql(fx.api, REFRESH, { r: a.refreshToken }))).toEqual(['UNAUTHENTICATED']);
      expect((await gql(fx.api, ME, {}, { token: tokens.buyer })).data.me.address).toBe(lc(BUYER.address));
      await new Promise((r) => setTimeout(r, 1_100)); // a new sign-in in a later second works again
      expect((await gql(fx.api, ME, {}, { token: await login(fx.api, USER) })).data.me.address).toBe(lc(USER.address));
    });

    test('a token for another audience is refused', async () => {
      const foreign = new Tokens(fx.config.JWT_SECRET, 600, 'another-service');
      const t = await foreign.sign({ address: lc(BUYER.address), roles: ['BUYER', 'SELLER', 'ADMIN'], sessionId: randomUUID() });
      const r = await gql(fx.api, ME, {}, { token: t.token });
      expect(r.errors![0]!.message).toBe('token is for another audience');
    });

    test('sign-in challenges are bounded per address, and used ones are cleaned up', async () => {
      for (let i = 0; i < 8; i++) await gql(fx.api, CHALLENGE, { a: USER.address });
      const { rows } = await fx.pool.query(`SELECT count(*)::int AS n FROM app.login_challenges WHERE address=$1`, [lc(USER.address)]);
      expect(rows[0].n).toBe(fx.config.LOGIN_CHALLENGES_PER_ADDRESS);
      await login(fx.api, USER);
      const used = await fx.pool.query(`SELECT count(*)::int AS n FROM app.login_challenges WHERE address=$1 AND used_at IS NOT NULL`, [lc(USER.address)]);
      expect(used.rows[0].n).toBe(1);
      await gql(fx.api, CHALLENGE, { a: USER.address });
      const after = await fx.pool.query(`SELECT count(*)::int AS n FROM app.login_challenges WHERE address=$1 AND used_at IS NOT NULL`, [lc(USER.address)]);
      expect(after.rows[0].n).toBe(0);
    });
  });

  test('anonymous me is UNAUTHENTICATED; bad addresses are BAD_USER_INPUT', async () => {
    expect(codes(await gql(fx.api, '{ me { address } }'))).toEqual(['UNAUTHENTICATED']);
    const bad = await gql(fx.api, CHALLENGE, { a: '0x1234' });
    expect(codes(bad)).toEqual(['BAD_USER_INPUT']);
  });
});

// ------------------------------------------------------------------------------ profiles and products
const UPDATE_PROFILE = `mutation($i: ProfileInput!) { updateProfile(input: $i) { address displayName phone } }`;
const CREATE_PRODUCT = `mutation($i: ProductInput!) { createProduct(input: $i) { id title priceKes priceNative paymentModes seller { address displayName } } }`;
let productId = '';

describe('profiles and products', () => {
  test('updateProfile normalises a Kenyan phone; only the owner sees it', async () => {
    const r = await gql(fx.api, UPDATE_PROFILE, { i: { displayName: 'Wanjiku Crafts', phone: '0711 000 222' } }, { token: tokens.seller });
    expect(r.data.updateProfile).toEqual({ address: lc(SELLER.address), displayName: 'Wanjiku Crafts', phone: SELLER_PHONE });
    const other = await gql(fx.api, `query($a: String!) { user(address: $a) { displayName phone } }`, { a: SELLER.address }, { token: tokens.buyer });
    expect(other.data.user).toEqual({ displayName: 'Wanjiku Crafts', phone: null });
    const admin = await gql(fx.api, `query($a: String!) { user(address: $a) { phone } }`, { a: SELLER.address }, { token: tokens.admin });
    expect(admin.data.user.phone).toBe(SELLER_PHONE);
  });

  test('an invalid phone is refused', async () => {
    for (const phone of ['0811000222', '+255711000222', '07110002', 'call me']) {
      const r = await gql(fx.api, UPDATE_PROFILE, { i: { phone } }, { token: tokens.buyer });
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
      expect(r.errors![0]!.message).toMatch(/Kenyan mobile number/);
    }
  });

  test('a seller lists, updates and reads back a product; the cache is invalidated on change', async () => {
    const c = await gql(fx.api, CREATE_PRODUCT, { i: { title: 'Kiondo basket', description: 'Hand-woven sisal', priceKes: 1500, priceNative: '2000000000000000' } }, { token: tokens.seller });
    expect(c.errors).toBeUndefined();
    productId = c.data.createProduct.id;
    expect(c.data.createProduct).toMatchObject({ title: 'Kiondo basket', priceKes: 1500, paymentModes: ['NATIVE', 'MPESA'], seller: { displayName: 'Wanjiku Crafts' } });
    const read = () => gql(fx.api, `query($id: ID!) { product(id: $id) { title priceKes } }`, { id: productId });
    expect((await read()).data.product).toEqual({ title: 'Kiondo basket', priceKes: 1500 });
    const cached = await fx.api.deps.redis.get(`${fx.config.REDIS_PREFIX}product:${productId}`);
    expect(cached).toContain('Kiondo basket');
    const u = await gql(fx.api, `mutation($id: ID!) { updateProduct(id: $id, input: { priceKes: 1600 }) { priceKes } }`, { id: productId }, { token: tokens.seller });
    expect(u.data.updateProduct.priceKes).toBe(1600);
    expect((await read()).data.product.priceKes).toBe(1600);
  });

  test("another seller's product cannot be changed or deleted", async () => {
    const u = await gql(fx.api, `mutation($id: ID!) { updateProduct(id: $id, input: { priceKes: 1 }) { id } }`, { id: productId }, { token: tokens.stranger });
    expect(codes(u)).toEqual(['FORBIDDEN']);
    const d = await gql(fx.api, `mutation($id: ID!) { deleteProduct(id: $id) }`, { id: productId }, { token: tokens.stranger });
    expect(codes(d)).toEqual(['FORBIDDEN']);
    expect(codes(await gql(fx.api, CREATE_PRODUCT, { i: { title: 'x', priceKes: 1 } }))).toEqual(['UNAUTHENTICATED']);
  });

  test('product input is validated', async () => {
    expect(codes(await gql(fx.api, CREATE_PRODUCT, { i: { title: 'No price' } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, CREATE_PRODUCT, { i: { title: 'Too dear', priceKes: 300000 } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, `{ product(id: "nope") { id } }`))).toEqual(['BAD_USER_INPUT']);
  });

  test('products pages with cursors, filters, clamps page sizes; deleted products disappear', async () => {
    for (let i = 0; i < 4; i++) await gql(fx.api, CREATE_PRODUCT, { i: { title: `Sandal ${i}`, priceNative: String(10 ** 15 + i) } }, { token: tokens.stranger });
    const page1 = await gql(fx.api, `{ products(first: 3) { nodes { title } pageInfo { hasNextPage endCursor } } }`);
    expect(page1.data.products.nodes).toHaveLength(3);
    expect(page1.data.products.pageInfo.hasNextPage).toBe(true);
    const page2 = await gql(fx.api, `query($a: String) { products(first: 3, after: $a) { nodes { title } pageInfo { hasNextPage } } }`, { a: page1.data.products.pageInfo.endCursor });
    const titles = [...page1.data.products.nodes, ...page2.data.products.nodes].map((n: { title: string }) => n.title);
    expect(new Set(titles).size).toBe(5);
    expect(page2.data.products.pageInfo.hasNextPage).toBe(false);
    const mpesa = await gql(fx.api, `{ products(filter: { paymentMode: MPESA }) { nodes { title } } }`);
    expect(mpesa.data.products.nodes.map((n: { title: string }) => n.title)).toEqual(['Kiondo basket']);
    const huge = await gql(fx.api, `{ products(first: 1000) { nodes { id } } }`);
    expect(huge.errors).toBeUndefined();
    expect(huge.data.products.nodes.length).toBeLessThanOrEqual(100);
    const sandal = (await gql(fx.api, `{ products(filter: { text: "sandal 3" }) { nodes { id } } }`)).data.products.nodes[0].id;
    expect((await gql(fx.api, `mutation($id: ID!) { deleteProduct(id: $id) }`, { id: sandal }, { token: tokens.stranger })).data.deleteProduct).toBe(true);
    expect((await gql(fx.api, `query($id: ID!) { product(id: $id) { id } }`, { id: sandal })).data.product).toBeNull();
    expect(codes(await gql(fx.api, `{ products(after: "garbage") { nodes { id } } }`))).toEqual(['BAD_USER_INPUT']);
  });
});

// ------------------------------------------------------------------------------ KYC, images, audit
describe('KYC, product images and the audit log', () => {
  const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
  const SUBMIT = `mutation($i: KycDocumentInput!) { submitKycDocument(input: $i) { state documents { id kind cid size mimeType } } }`;
  const REVIEW = `mutation($a: String!, $i: KycReviewInput!) { reviewKyc(address: $a, input: $i) { state reason decidedBy { address } } }`;
  const KYC = `query($a: String!) { user(address: $a) { kyc { state reason documents { kind filename contentBase64 } } } }`;

  test('listing above the KYC price needs an approved seller; documents are sealed and private; admins decide and it is audited', async () => {
    const dear = { title: 'Maasai shuka bundle', priceKes: fx.config.KYC_REQUIRED_ABOVE_KES + 1 };
    const refused = await gql(fx.api, CREATE_PRODUCT, { i: dear }, { token: tokens.seller });
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect(refused.errors![0]!.message).toMatch(/KYC/);

    // Bad files change nothing.
    const doc = { kind: 'NATIONAL_ID', filename: 'id-front.png', mimeType: 'image/png' };
    expect(codes(await gql(fx.api, SUBMIT, { i: { ...doc, contentBase64: Buffer.from('not a png at all').toString('base64') } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, SUBMIT, { i: { ...doc, mimeType: 'text/html', contentBase64: PNG } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, SUBMIT, { i: { ...doc, filename: '../../etc/passwd', contentBase64: PNG } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
    const big = Buffer.concat([Buffer.from(PNG, 'base64'), Buffer.alloc(fx.config.KYC_DOCUMENT_MAX_BYTES)]).toString('base64');
    expect(codes(await gql(fx.api, SUBMIT, { i: { ...doc, contentBase64: big } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, SUBMIT, { i: { ...doc, contentBase64: PNG } }))).toEqual(['UNAUTHENTICATED']);

    const sent = await gql(fx.api, SUBMIT, { i: { ...doc, contentBase64: PNG } }, { token: tokens.seller });
    expect(sent.errors).toBeUndefined();
    expect(sent.data.submitKycDocument).toMatchObject({ state: 'PENDING', documents: [{ kind: 'NATIONAL_ID', mimeType: 'image/png', size: Buffer.from(PNG, 'base64').length }] });
    // The content store holds ciphertext only.
    const stored = Buffer.from((await fx.api.deps.store.get(sent.data.submitKycDocument.documents[0].cid))!);
    expect(stored.includes(Buffer.from(PNG, 'base64'))).toBe(false);

    // Private: the seller and admins read it; anyone else sees nothing.
    expect((await gql(fx.api, KYC, { a: SELLER.address }, { token: tokens.stranger })).data.user.kyc).toBeNull();
    expect((await gql(fx.api, KYC, { a: SELLER.address })).data.user.kyc).toBeNull();
    expect((await gql(fx.api, KYC, { a: SELLER.address }, { token: tokens.seller })).data.user.kyc.documents[0].contentBase64).toBe(PNG);
    expect((await gql(fx.api, KYC, { a: SELLER.address }, { token: tokens.admin })).data.user.kyc.documents[0].contentBase64).toBe(PNG);

    // Only admins decide; a rejection needs a reason.
    expect(codes(await gql(fx.api, REVIEW, { a: SELLER.address, i: { decision: 'APPROVE' } }, { token: tokens.seller }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(fx.api, REVIEW, { a: SELLER.address, i: { decision: 'REJECT' } }, { token: tokens.admin }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, REVIEW, { a: STRANGER.address, i: { decision: 'APPROVE' } }, { token: tokens.admin }))).toEqual(['CONFLICT']);
    const rejected = await gql(fx.api, REVIEW, { a: SELLER.address, i: { decision: 'REJECT', reason: 'photo unreadable' } }, { token: tokens.admin });
    expect(rejected.data.reviewKyc).toEqual({ state: 'REJECTED', reason: 'photo unreadable', decidedBy: { address: lc(ADMIN.address) } });
    await gql(fx.api, SUBMIT, { i: { ...doc, filename: 'id-front-2.png', contentBase64: PNG } }, { token: tokens.seller });
    const approved = await gql(fx.api, REVIEW, { a: SELLER.address, i: { decision: 'APPROVE' } }, { token: tokens.admin });
    expect(approved.data.reviewKyc.state).toBe('APPROVED');
    expect((await gql(fx.api, CREATE_PRODUCT, { i: dear }, { token: tokens.seller })).errors).toBeUndefined();

    // Every decision is in the audit log, newest first; only admins read it, and nobody can change it.
    const AUDIT = `{ auditLog(first: 10) { nodes { actor action subject details } } }`;
    expect(codes(await gql(fx.api, AUDIT, {}, { token: tokens.seller }))).toEqual(['FORBIDDEN']);
    const log = (await gql(fx.api, AUDIT, {}, { token: tokens.admin })).data.auditLog.nodes;
    expect(log.slice(0, 2)).toEqual([
      expect.objectContaining({ actor: lc(ADMIN.address), action: 'kyc.approve', subject: lc(SELLER.address), details: expect.objectContaining({ from: 'PENDING', to: 'APPROVED' }) }),
      expect.objectContaining({ action: 'kyc.reject', details: expect.objectContaining({ reason: 'photo unreadable' }) }),
    ]);
    await expect(fx.pool.query(`UPDATE app.audit_log SET actor = 'someone else'`)).rejects.toThrow(/append-only/);
    await expect(fx.pool.query(`DELETE FROM app.audit_log`)).rejects.toThrow(/append-only/);
  });

  test("a product image is checked by its content and size, and only the product's seller uploads it", async () => {
    const UPLOAD = `mutation($id: ID!, $i: ImageInput!) { uploadProductImage(productId: $id, input: $i) { id imageCid } }`;
    expect(codes(await gql(fx.api, UPLOAD, { id: productId, i: { mimeType: 'image/png', contentBase64: PNG } }, { token: tokens.stranger }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(fx.api, UPLOAD, { id: productId, i: { mimeType: 'image/jpeg', contentBase64: PNG } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, UPLOAD, { id: productId, i: { mimeType: 'image/svg+xml', contentBase64: Buffer.from('<svg/>').toString('base64') } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
    const big = Buffer.concat([Buffer.from(PNG, 'base64'), Buffer.alloc(fx.config.PRODUCT_IMAGE_MAX_BYTES)]).toString('base64');
    expect(codes(await gql(fx.api, UPLOAD, { id: productId, i: { mimeType: 'image/png', contentBase64: big } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
    const ok = await gql(fx.api, UPLOAD, { id: productId, i: { mimeType: 'image/png', contentBase64: PNG } }, { token: tokens.seller });
    expect(ok.data.uploadProductImage.imageCid).toBe(rawCidV1(Buffer.from(PNG, 'base64')));
    expect(Buffer.from((await fx.api.deps.store.get(ok.data.uploadProductImage.imageCid))!).toString('base64')).toBe(PNG);
    expect((await gql(fx.api, `query($id: ID!) { product(id: $id) { imageCid } }`, { id: productId })).data.product.imageCid).toBe(ok.data.uploadProductImage.imageCid);
  });
});

// ------------------------------------------------------------------------------ journeys
const ORDER = `query($id: ID!) { order(id: $id) {
  id status onChain paymentMode amount currency quantity deliveryAddress buyerPhone
  buyer { address } seller { address displayName } product { title }
  events { kind blockNumber } mpesaPayment { status checkoutRequestId receipt amountKes } evidence { cid filename }
} }`;
const CREATE_ORDER = `mutation($i: CreateOrderInput!) { createOrder(input: $i) { orderId amount paymentMode metadataCid contractCall { to data value chainId } order { status deliveryAddress } } }`;
let nativeOrderId = '';
let mpesaOrderId = '';

describe('order journeys', () => {
  test('native: createOrder returns the wallet call; once mined and indexed, order(id) is FUNDED with the merged view', async () => {
    const c = await gql(fx.api, CREATE_ORDER, { i: { productId, quantity: 2, paymentMode: 'NATIVE', deliveryAddress: 'Moi Avenue 12, Nairobi' } }, { token: tokens.buyer });
    expect(c.errors).toBeUndefined();
    const p = c.data.createOrder;
    nativeOrderId = p.orderId;
    expect(p.orderId).toMatch(/^0x[0-9a-f]{64}$/);
    expect(p.amount).toBe('4000000000000000');
    expect(p.metadataCid).toMatch(/^bafkrei[a-z2-7]{52}$/);
    expect(p.contractCall).toMatchObject({ to: lc(fx.chain.deployment.address), value: '4000000000000000', chainId: 31337 });
    expect(p.order).toEqual({ status: 'DRAFT', deliveryAddress: 'Moi Avenue 12, Nairobi' });
    await fx.sendAs(BUYER.privateKey as Hex, { to: p.contractCall.to, data: p.contractCall.data, value: BigInt(p.contractCall.value) });
    await fx.catchUp();
    const o = await gql(fx.api, ORDER, { id: nativeOrderId }, { token: tokens.buyer });
    expect(o.errors).toBeUndefined();
    expect(o.data.order).toMatchObject({
      status: 'FUNDED', onChain: true, paymentMode: 'NATIVE', currency: 'DOT', amount: '4000000000000000', quantity: 2,
      deliveryAddress: 'Moi Avenue 12, Nairobi', buyer: { address: lc(BUYER.address) }, seller: { address: lc(SELLER.address), displayName: 'Wanjiku Crafts' },
      product: { title: 'Kiondo basket' },
    });
    expect(o.data.order.events.map((e: { kind: string }) => e.kind)).toEqual(['OrderCreated', 'OrderFunded']);
  });

  test("the delivery address and phone are only for the parties and admins: another user's order refuses them", async () => {
    const s = await gql(fx.api, `query($id: ID!) { order(id: $id) { status deliveryAddress } }`, { id: nativeOrderId }, { token: tokens.stranger });
    expect(s.data.order).toEqual({ status: 'FUNDED', deliveryAddress: null });
    expect(codes(s)).toEqual(['FORBIDDEN']);
    const anon = await gql(fx.api, `query($id: ID!) { order(id: $id) { buyerPhone } }`, { id: nativeOrderId });
    expect(codes(anon)).toEqual(['FORBIDDEN']);
    for (const t of [tokens.seller, tokens.admin]) {
      const r = await gql(fx.api, `query($id: ID!) { order(id: $id) { deliveryAddress } }`, { id: nativeOrderId }, { token: t });
      expect(r.data.order.deliveryAddress).toBe('Moi Avenue 12, Nairobi');
    }
  });

  test("attack: a buyer's own 1-wei order on their draft's id shows what the chain holds, never the draft's product; admins see the mismatch", async () => {
    const c = await gql(fx.api, `mutation($i: CreateOrderInput!) { createOrder(input: $i) { orderId salt contractCall { to } } }`,
      { i: { productId, quantity: 3, paymentMode: 'NATIVE', deliveryAddress: 'Tom Mboya St 1, Nairobi' } }, { token: tokens.buyer });
    const { orderId, salt } = c.data.createOrder;
    expect(orderId).toBe(orderIdFor(BUYER.address, salt).toLowerCase());
    // The buyer's wallet sends its own call on the draft's id instead: one wei.
    await fx.sendAs(BUYER.privateKey as Hex, {
      to: c.data.createOrder.contractCall.to,
      data: encodeFunctionData({ abi: escrowAbi, functionName: 'createOrder', args: [salt, SELLER.address, 1n, 0, 'bafy-cheap'] }),
      value: 1n,
    });
    await fx.catchUp();
    const q = `query($id: ID!) { order(id: $id) { status amount quantity product { title } deliveryAddress metadataCid draftMismatch } }`;
    const seen = await gql(fx.api, q, { id: orderId }, { token: tokens.seller });
    expect(seen.data.order).toEqual({ status: 'FUNDED', amount: '1', quantity: null, product: null, deliveryAddress: null, metadataCid: 'bafy-cheap', draftMismatch: null });
    const admin = await gql(fx.api, q, { id: orderId }, { token: tokens.admin });
    expect(admin.data.order.draftMismatch).toEqual(['amount: chain 1, draft 6000000000000000']);
  });

  describe('a contract call for every party action', () => {
    const PREP = (m: string, args = '$id: ID!', pass = 'orderId: $id', extra = '') =>
      `mutation(${args}) { ${m}(${pass}) { orderId action call { to data value chainId } ${extra} } }`;
    let id = '';
    const send = (key: string, c: { to: Hex; data: Hex; value: string }) => fx.sendAs(key as Hex, { to: c.to, data: c.data, value: BigInt(c.value) });
    const arbiterToken = () => login(fx.api, DEV_ROLES.arbiter);

    test('ship with tracking → dispute → the arbiter resolves: each call is checked, sent and indexed', async () => {
      const c = await gql(fx.api, `mutation($i: CreateOrderInput!) { createOrder(input: $i) { orderId contractCall { to data value } } }`,
        { i: { productId, paymentMode: 'NATIVE', deliveryAddress: 'Biashara St 9, Mombasa' } }, { token: tokens.buyer });
      id = c.data.createOrder.orderId;
      const cc = c.data.createOrder.contractCall;
      await fx.sendAs(BUYER.privateKey as Hex, { to: cc.to, data: cc.data, value: BigInt(cc.value) });
      await fx.catchUp();

      const ship = PREP('prepareMarkShipped', '$id: ID!, $t: TrackingInput', 'orderId: $id, tracking: $t', 'trackingCid');
      const t = { carrier: 'G4S Kenya', trackingNumber: 'G4S-123456', url: 'https://track.example/G4S-123456' };
      expect(codes(await gql(fx.api, ship, { id, t }, { token: tokens.buyer }))).toEqual(['FORBIDDEN']);
      expect(codes(await gql(fx.api, ship, { id, t }, { token: tokens.stranger }))).toEqual(['FORBIDDEN']);
      expect(codes(await gql(fx.api, ship, { id, t: { ...t, url: 'javascript:alert(1)' } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await gql(fx.api, PREP('prepareClaimTimeout'), { id }, { token: tokens.stranger }))).toEqual(['CONFLICT']);
      const shipped = (await gql(fx.api, ship, { id, t }, { token: tokens.seller })).data.prepareMarkShipped;
      expect(shipped).toMatchObject({ orderId: id, action: 'markShipped', call: { to: lc(fx.chain.deployment.address), value: '0', chainId: 31337 } });
      await send(SELLER.privateKey, shipped.call);
      await fx.catchUp();
      const q = `query($id: ID!) { order(id: $id) { status trackingCid tracking { carrier trackingNumber url } } }`;
      expect((await gql(fx.api, q, { id }, { token: tokens.buyer })).data.order).toEqual({ status: 'SHIPPED', trackingCid: shipped.trackingCid, tracking: { ...t } });
      expect((await gql(fx.api, q, { id }, { token: tokens.stranger })).data.order.tracking).toBeNull();
      expect(codes(await gql(fx.api, ship, { id, t }, { token: tokens.seller }))).toEqual(['CONFLICT']);

      const dispute = PREP('prepareRaiseDispute', '$id: ID!, $i: DisputeInput!', 'orderId: $id, input: $i', 'evidenceCid');
      expect(codes(await gql(fx.api, dispute, { id, i: { statement: 'not mine' } }, { token: tokens.stranger }))).toEqual(['FORBIDDEN']);
      expect(codes(await gql(fx.api, dispute, { id, i: { statement: '' } }, { token: tokens.buyer }))).toEqual(['BAD_USER_INPUT']);
      const raised = (await gql(fx.api, dispute, { id, i: { statement: 'The basket arrived torn.' } }, { token: tokens.buyer })).data.prepareRaiseDispute;
      await send(BUYER.privateKey, raised.call);
      await fx.catchUp();

      const resolve = PREP('prepareResolveDispute', '$id: ID!, $b: Int!', 'orderId: $id, buyerShareBps: $b', 'buyerAmount sellerAmount fee currency');
      expect(codes(await gql(fx.api, resolve, { id, b: 5_000 }, { token: tokens.buyer }))).toEqual(['FORBIDDEN']);
      expect(codes(await gql(fx.api, resolve, { id, b: 5_000 }, { token: tokens.admin }))).toEqual(['FORBIDDEN']);
      const arb = await arbiterToken();
      expect(codes(await gql(fx.api, resolve, { id, b: 10_001 }, { token: arb }))).toEqual(['BAD_USER_INPUT']);
      const r = (await gql(fx.api, resolve, { id, b: 2_500 }, { token: arb })).data.prepareResolveDispute;
      const o = (await gql(fx.api, `query($id: ID!) { order(id: $id) { amount feeBps } }`, { id })).data.order;
      const split = payoutSplit(BigInt(o.amount), o.feeBps, 2_500);
      expect(r).toMatchObject({ action: 'resolveDispute', buyerAmount: String(split.buyerAmount), sellerAmount: String(split.sellerAmount), fee: String(split.fee), currency: 'DOT' });
      await send(DEV_ROLES.arbiter.privateKey, r.call);
      await fx.catchUp();
      expect((await gql(fx.api, q, { id }, { token: tokens.buyer })).data.order.status).toBe('RESOLVED');
      expect(codes(await gql(fx.api, PREP('prepareConfirmDelivery'), { id }, { token: tokens.buyer }))).toEqual(['CONFLICT']);
    });

    test('confirm is the buyer\'s; withdraw needs credits; unknown orders are NOT_FOUND; anonymous is UNAUTHENTICATED', async () => {
      const funded = fx.orderIds[0]!;
      expect(codes(await gql(fx.api, PREP('prepareConfirmDelivery'), { id: `0x${'ab'.repeat(32)}` }, { token: tokens.buyer }))).toEqual(['NOT_FOUND']);
      expect(codes(await gql(fx.api, PREP('prepareConfirmDelivery'), { id: funded }))).toEqual(['UNAUTHENTICATED']);
      expect(codes(await gql(fx.api, PREP('prepareConfirmDelivery'), { id: 'nope' }, { token: tokens.buyer }))).toEqual(['BAD_USER_INPUT']);
      expect(codes(await gql(fx.api, 'mutation { prepareWithdraw { amount } }', {}, { token: tokens.stranger }))).toEqual(['CONFLICT']);
      expect((await gql(fx.api, '{ withdrawable }', {}, { token: tokens.stranger })).data.withdrawable).toBe('0');
      expect(codes(await gql(fx.api, `{ withdrawable(address: "${lc(BUYER.address)}") }`, {}, { token: tokens.stranger }))).toEqual(['FORBIDDEN']);
    });
  });

  test('orders carry their own windows and the deadline in force', async () => {
    const o = await gql(fx.api, `query($id: ID!) { order(id: $id) { shippingWindow confirmationWindow deadline fundedAt } }`, { id: nativeOrderId });
    const chain = (await readOrders(fx.chain, [nativeOrderId])).get(nativeOrderId)!;
    expect(o.data.order).toMatchObject({ shippingWindow: chain.shippingWindow, confirmationWindow: chain.confirmationWindow, deadline: String(chain.deadline) });
  });

  test('mpesa: payWithMpesa asks the oracle for an STK Push; the subscriber sees FUNDED within 1 s of it being indexed', async () => {
    const c = await gql(fx.api, CREATE_ORDER, { i: { productId, paymentMode: 'MPESA', deliveryAddress: 'Kenyatta Ave 5, Nakuru' } }, { token: tokens.buyer });
    expect(c.errors).toBeUndefined();
    mpesaOrderId = c.data.createOrder.orderId;
    expect(c.data.createOrder).toMatchObject({ amount: '1600', paymentMode: 'MPESA', contractCall: null });

    // Subscribe (GraphQL over SSE) before paying: to the order, and to the explorer's feed of the index's steps.
    const updates = await subscribeSse(`subscription($id: ID!) { orderUpdated(id: $id) { id status order { status } } }`, { id: mpesaOrderId });
    const feed = await subscribeSse(`subscription { indexAdvanced { lastProcessedHeight changedOrderIds } }`, {});

    const pay = await gql(fx.api, `mutation($id: ID!, $p: String!) { payWithMpesa(orderId: $id, phoneNumber: $p) { orderId checkoutRequestId status } }`, { id: mpesaOrderId, p: BUYER_PHONE }, { token: tokens.buyer });
    expect(pay.errors).toBeUndefined();
    expect(pay.data.payWithMpesa.checkoutRequestId).toMatch(/^ws_CO_/);
    expect(pay.data.payWithMpesa.status).toBe('pending');

    // When did the index record FUNDED? (watched directly, every 20 ms)
    const indexedAt = await eventually(async () => {
      const { rows } = await fx.pool.query(`SELECT status FROM ${fx.schema}.orders WHERE id = $1 AND upper_inf(_block_range)`, [mpesaOrderId]);
      return rows[0]?.status === 'FUNDED' ? Date.now() : 0;
    }, (t) => t > 0, 45_000, 'the index to show FUNDED').catch(async (e: Error) => {
      const ledger = await fx.pool.query(`SELECT status, failure_reason, result_code FROM oracle.payment_requests WHERE order_id = $1`, [mpesaOrderId]);
      const outbox = await fx.pool.query(`SELECT kind, status, last_error FROM oracle.outbox WHERE order_id = $1`, [mpesaOrderId]);
      throw new Error(`${e.message}\nledger: ${JSON.stringify(ledger.rows)}\noutbox: ${JSON.stringify(outbox.rows)}\nindexer: ${fx.node.output().slice(-5).join('\n')}`);
    });
    const status = (e: { data: any }) => e.data.orderUpdated.status as string;
    const funded = await eventually(async () => updates.seen.find((e) => status(e) === 'FUNDED'), (e) => !!e, 3_000, 'the subscriber to see FUNDED');
    expect(funded!.at - indexedAt).toBeLessThan(1_000);
    expect(status(updates.seen[0]!)).toBe('DRAFT');
    // The public feed named the order in the step that indexed it, as soon, and its heights only go up.
    const step = await eventually(async () => feed.seen.find((e) => e.data.indexAdvanced.changedOrderIds.includes(mpesaOrderId)), (e) => !!e, 3_000, 'the feed to name the order');
    expect(step!.at - indexedAt).toBeLessThan(1_000);
    const heights = feed.seen.map((e) => e.data.indexAdvanced.lastProcessedHeight as number);
    expect(heights).toEqual([...heights].sort((a, b) => a - b));
    await Promise.all([updates.close(), feed.close()]);

    const o = await gql(fx.api, ORDER, { id: mpesaOrderId }, { token: tokens.seller });
    expect(o.errors).toBeUndefined();
    expect(o.data.order).toMatchObject({
      status: 'FUNDED', paymentMode: 'MPESA', currency: 'KES', amount: '1600', buyerPhone: '254708374149',
      mpesaPayment: { status: 'paid', checkoutRequestId: pay.data.payWithMpesa.checkoutRequestId, amountKes: 1600 },
    });
    expect(o.data.order.mpesaPayment.receipt).toMatch(/^[A-Z0-9]{10}$/);
    expect(o.data.order.events.map((e: { kind: string }) => e.kind)).toEqual(['OrderCreated', 'OffchainPaymentRecorded']);
    // A stranger sees the status but not the receipt.
    const s = await gql(fx.api, `query($id: ID!) { order(id: $id) { status mpesaPayment { status receipt } } }`, { id: mpesaOrderId }, { token: tokens.stranger });
    expect(s.data.order).toEqual({ status: 'FUNDED', mpesaPayment: { status: 'paid', receipt: null } });
  }, 90_000);

  test('payWithMpesa refusals: another user, an invalid phone, a native order, a paid order, a seller without a phone', async () => {
    const pay = (id: string, p: string, token: string) => gql(fx.api, `mutation($id: ID!, $p: String!) { payWithMpesa(orderId: $id, phoneNumber: $p) { status } }`, { id, p }, { token });
    expect(codes(await pay(mpesaOrderId, BUYER_PHONE, tokens.stranger))).toEqual(['FORBIDDEN']);
    expect(codes(await pay(mpesaOrderId, '12345', tokens.buyer))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await pay(nativeOrderId, BUYER_PHONE, tokens.buyer))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await pay(mpesaOrderId, BUYER_PHONE, tokens.buyer))).toEqual(['CONFLICT']);
    expect(codes(await pay(`0x${'ab'.repeat(32)}`, BUYER_PHONE, tokens.buyer))).toEqual(['NOT_FOUND']);
    // The stranger has no phone: their products cannot be bought with M-Pesa.
    const p = await gql(fx.api, CREATE_PRODUCT, { i: { title: 'Phoneless', priceKes: 100 } }, { token: tokens.stranger });
    const c = await gql(fx.api, CREATE_ORDER, { i: { productId: p.data.createProduct.id, paymentMode: 'MPESA', deliveryAddress: 'Somewhere 1' } }, { token: tokens.buyer });
    expect(codes(c)).toEqual(['CONFLICT']);
    expect(c.errors![0]!.message).toMatch(/no M-Pesa phone/);
  });

  test('payWithMpesa limits prompts per phone, per order and per user, with a clear error that changes nothing', async () => {
    // Issue 15: the API pushed a PIN prompt to any phone without limit (spam, and a victim
    // who enters the PIN funds someone else's order).
    const limited = await fx.makeApi({ MPESA_PUSH_LIMIT_PER_PHONE: '2', MPESA_PUSH_LIMIT_PER_ORDER: '2', MPESA_PUSH_LIMIT_PER_USER: '3', REDIS_PREFIX: `descrow:limits-${Date.now()}:` });
    const [P1, P2, P3, P4] = ['0711000931', '0711000932', '0711000933', '0711000934'];
    // The prompts stay on the phones (nobody pays), so nothing here reaches the chain or the reconciliation.
    for (const p of ['254711000931', '254711000933']) fx.sim.state.addRule({ product: 'stk', phone: p, outcome: 'pending' });
    const draft = async () => (await gql(limited, CREATE_ORDER, { i: { productId, paymentMode: 'MPESA', deliveryAddress: 'Limits Lane 1' } }, { token: tokens.buyer })).data.createOrder.orderId as string;
    const [X, Y, Z] = [await draft(), await draft(), await draft()];
    const pay = (id: string, p: string) => gql(limited, `mutation($id: ID!, $p: String!) { payWithMpesa(orderId: $id, phoneNumber: $p) { status } }`, { id, p }, { token: tokens.buyer });
    expect((await pay(X, P1)).errors).toBeUndefined();
    expect((await pay(X, P1)).errors).toBeUndefined(); // a retry: the oracle answers the same request
    const phone = await pay(X, P1);
    expect(codes(phone)).toEqual(['RATE_LIMITED']);
    expect(phone.errors![0]!.message).toMatch(/too many M-Pesa prompts for this phone number \(at most 2 per 60 minutes\)/);
    expect(phone.errors![0]!.extensions).toMatchObject({ reason: 'PHONE_LIMIT', retryAfterSeconds: expect.any(Number) });
    expect((await pay(X, P2)).errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'ORDER_LIMIT' });
    expect((await pay(Y, P3)).errors?.[0]?.extensions?.code).not.toBe('RATE_LIMITED');
    expect((await pay(Z, P4)).errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED', reason: 'USER_LIMIT' });
    // A refused prompt reached nobody: one request for X (the retry reused it), none for Z.
    const { rows } = await fx.pool.query(`SELECT order_id, count(*)::int AS n FROM oracle.payment_requests WHERE order_id = ANY($1) GROUP BY 1`, [[X, Z]]);
    expect(rows).toEqual([{ order_id: X, n: 1 }]);
  });

  test('createOrder refusals: own product, unsupported mode, unknown product, anonymous', async () => {
    expect(codes(await gql(fx.api, CREATE_ORDER, { i: { productId, paymentMode: 'NATIVE', deliveryAddress: 'Moi Avenue 12' } }, { token: tokens.seller }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, CREATE_ORDER, { i: { productId: '00000000-0000-4000-8000-000000000000', paymentMode: 'NATIVE', deliveryAddress: 'Moi Avenue 12' } }, { token: tokens.buyer }))).toEqual(['NOT_FOUND']);
    expect(codes(await gql(fx.api, CREATE_ORDER, { i: { productId, paymentMode: 'NATIVE', deliveryAddress: 'x' } }, { token: tokens.buyer }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, CREATE_ORDER, { i: { productId, paymentMode: 'NATIVE', deliveryAddress: 'Moi Avenue 12' } }))).toEqual(['UNAUTHENTICATED']);
  });

  test('addEvidence stores the file content-addressed for either party; others are refused', async () => {
    const bytes = Buffer.from('photo of a torn basket');
    const add = (token: string, id = nativeOrderId) => gql(fx.api, `mutation($id: ID!, $i: EvidenceInput!) { addEvidence(orderId: $id, input: $i) { cid size uploader filename } }`,
      { id, i: { filename: 'torn.jpg', mimeType: 'image/jpeg', contentBase64: bytes.toString('base64'), note: 'arrived torn' } }, { token });
    const r = await add(tokens.buyer);
    expect(r.errors).toBeUndefined();
    expect(r.data.addEvidence).toEqual({ cid: rawCidV1(bytes), size: bytes.length, uploader: lc(BUYER.address), filename: 'torn.jpg' });
    expect(await fx.api.deps.store.get(r.data.addEvidence.cid)).toEqual(new Uint8Array(bytes));
    expect((await add(tokens.seller)).errors).toBeUndefined();
    expect(codes(await add(tokens.stranger))).toEqual(['FORBIDDEN']);
    // Orders created outside the API (no draft) take evidence too.
    const idx = await gql(fx.api, `query($id: ID!) { order(id: $id) { buyer { address } } }`, { id: fx.orderIds[0] });
    expect(codes(await add(tokens.stranger, fx.orderIds[0]!))).toEqual(idx.data.order.buyer.address === lc(STRANGER.address) ? [] : ['FORBIDDEN']);
    const o = await gql(fx.api, ORDER, { id: nativeOrderId }, { token: tokens.seller });
    expect(o.data.order.evidence).toHaveLength(2);
    const s = await gql(fx.api, `query($id: ID!) { order(id: $id) { evidence { cid } } }`, { id: nativeOrderId }, { token: tokens.stranger });
    expect(s.data.order.evidence).toEqual([]);
    const tooBig = await gql(fx.api, `mutation($id: ID!, $i: EvidenceInput!) { addEvidence(orderId: $id, input: $i) { cid } }`,
      { id: nativeOrderId, i: { filename: 'big.bin', mimeType: 'application/octet-stream', contentBase64: Buffer.alloc(1024 * 1024 + 1).toString('base64') } }, { token: tokens.buyer });
    expect(codes(tooBig)).toEqual(['BAD_USER_INPUT']);
  });

  test('CIDs are real IPFS CIDv1 (raw, sha2-256, base32)', () => {
    expect(rawCidV1(Buffer.from('hello world'))).toBe('bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e');
  });
});

// ------------------------------------------------------------------------------ order lists
describe('orders', () => {
  test('orders filters by role, status, payment mode and dates, newest first, with cursors', async () => {
    const mine = await gql(fx.api, `{ orders(filter: { role: BUYER }, first: 100) { nodes { id buyer { address } createdBlock } } }`, {}, { token: tokens.buyer });
    expect(mine.data.orders.nodes.length).toBeGreaterThan(2);
    expect(mine.data.orders.nodes.every((n: { buyer: { address: string } }) => n.buyer.address === lc(BUYER.address))).toBe(true);
    expect(mine.data.orders.nodes.map((n: { id: string }) => n.id)).toEqual(expect.arrayContaining([nativeOrderId, mpesaOrderId]));
    const blocks = mine.data.orders.nodes.map((n: { createdBlock: number }) => n.createdBlock);
    expect(blocks).toEqual([...blocks].sort((a: number, b: number) => b - a));

    const funded = await gql(fx.api, `{ orders(filter: { status: [COMPLETED], paymentMode: MPESA }, first: 100) { nodes { status paymentMode } } }`);
    expect(funded.data.orders.nodes.length).toBeGreaterThan(0);
    expect(funded.data.orders.nodes.every((n: { status: string; paymentMode: string }) => n.status === 'COMPLETED' && n.paymentMode === 'MPESA')).toBe(true);

    const future = await gql(fx.api, `{ orders(filter: { createdFrom: "2100-01-01T00:00:00Z" }) { nodes { id } } }`);
    expect(future.data.orders.nodes).toEqual([]);

    const all: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const page: any = await gql(fx.api, `query($a: String) { orders(first: 25, after: $a) { nodes { id } pageInfo { hasNextPage endCursor } } }`, { a: after });
      all.push(...page.data.orders.nodes.map((n: { id: string }) => n.id));
      if (!page.data.orders.pageInfo.hasNextPage) break;
      after = page.data.orders.pageInfo.endCursor;
    }
    const { rows } = await fx.pool.query(`SELECT count(*)::int AS n FROM ${fx.schema}.orders WHERE upper_inf(_block_range)`);
    expect(all.length).toBe(rows[0].n);
    expect(new Set(all).size).toBe(all.length);
  });

  test('role filters need a login', async () => {
    expect(codes(await gql(fx.api, `{ orders(filter: { role: SELLER }) { nodes { id } } }`))).toEqual(['UNAUTHENTICATED']);
  });

  test('a list of 50 orders with every nested field costs a bounded number of SQL queries (DataLoader)', async () => {
    const q = `query($n: Int) { orders(first: $n) { nodes {
      id status buyer { address displayName } seller { displayName } product { title } dispute { raisedBy }
      events { kind } payouts { amount } mpesaPayment { status } mpesaPayouts { status } evidence { cid }
    } } }`;
    const cost = async (n: number) => {
      const before = fx.api.deps.stats.queries;
      const r = await gql(fx.api, q, { n }, { token: tokens.admin });
      expect(r.errors).toBeUndefined();
      expect(r.data.orders.nodes).toHaveLength(n);
      return fx.api.deps.stats.queries - before;
    };
    const five = await cost(5);
    const fifty = await cost(50);
    // One query per kind of thing (list, drafts, products, profiles, events, payouts, disputes,
    // evidence, ledger payments, ledger payouts), however long the list.
    expect(five).toBeLessThanOrEqual(12);
    expect(fifty).toBeLessThanOrEqual(12);
  });
});

// ------------------------------------------------------------------------------ explorer
describe('explorer', () => {
  test('latestBlocks, block by number and hash, transaction, contractEvents, account', async () => {
    const latest = await gql(fx.api, `{ latestBlocks(first: 3) { number hash transactions { hash from } events { kind } } }`);
    expect(latest.data.latestBlocks).toHaveLength(3);
    const top = latest.data.latestBlocks[0];
    expect(top.number).toBeGreaterThan(latest.data.latestBlocks[1].number);
    const byNumber = await gql(fx.api, `query($b: String!) { block(numberOrHash: $b) { hash } }`, { b: String(top.number) });
    expect(byNumber.data.block.hash).toBe(top.hash);
    const byHash = await gql(fx.api, `query($b: String!) { block(numberOrHash: $b) { number } }`, { b: top.hash });
    expect(byHash.data.block.number).toBe(top.number);

    const ev = await gql(fx.api, `query($id: String) { contractEvents(filter: { orderId: $id }) { nodes { kind transactionHash sender args { name value } } } }`, { id: nativeOrderId });
    expect(ev.data.contractEvents.nodes.map((e: { kind: string }) => e.kind)).toEqual(['OrderFunded', 'OrderCreated']);
    // Decoded arguments come back by name, in the ABI's order, values as decimal strings / lower-case hex.
    expect(ev.data.contractEvents.nodes[0].args.map((a: { name: string }) => a.name)).toEqual(['orderId', 'payer', 'amount', 'shippingDeadline']);
    expect(ev.data.contractEvents.nodes[0].args[2]).toEqual({ name: 'amount', value: '4000000000000000' });
    const txHash = ev.data.contractEvents.nodes[0].transactionHash;
    const tx = await gql(fx.api, `query($h: String!) { transaction(hash: $h) { from value events { kind } } }`, { h: txHash });
    expect(tx.data.transaction).toEqual({ from: lc(BUYER.address), value: '4000000000000000', events: [{ kind: 'OrderCreated' }, { kind: 'OrderFunded' }] });

    const kinds = await gql(fx.api, `{ contractEvents(filter: { kind: "DisputeRaised" }, first: 2) { nodes { kind } pageInfo { hasNextPage endCursor } } }`);
    expect(kinds.data.contractEvents.nodes).toEqual([{ kind: 'DisputeRaised' }, { kind: 'DisputeRaised' }]);

    const acc = await gql(fx.api, `query($a: String!) { account(address: $a) { address buyerOrderCount boughtNative profile { displayName } orders(first: 5) { nodes { id } } } }`, { a: SELLER.address });
    expect(acc.data.account.profile).toEqual({ displayName: 'Wanjiku Crafts' });
    expect(acc.data.account.orders.nodes.length).toBe(5);
    expect(codes(await gql(fx.api, `{ block(numberOrHash: "latest") { number } }`))).toEqual(['BAD_USER_INPUT']);
  });

  test('search finds an order id, a transaction hash, an address and an M-Pesa receipt', async () => {
    const s = (text: string) => gql(fx.api, `query($t: String!) { search(text: $t) { __typename ... on Order { id status } ... on Transaction { hash } ... on Account { address } ... on Block { number } } }`, { t: text });
    expect((await s(nativeOrderId)).data.search).toEqual([{ __typename: 'Order', id: nativeOrderId, status: 'FUNDED' }]);
    const ev = await gql(fx.api, `query($id: String) { contractEvents(filter: { orderId: $id }) { nodes { transactionHash blockNumber } } }`, { id: nativeOrderId });
    const txHash = ev.data.contractEvents.nodes[0].transactionHash;
    expect((await s(txHash)).data.search).toEqual([{ __typename: 'Transaction', hash: txHash }]);
    expect((await s(SELLER.address)).data.search).toEqual([{ __typename: 'Account', address: lc(SELLER.address) }]);
    const { rows } = await fx.pool.query(`SELECT mpesa_receipt FROM oracle.payment_requests WHERE order_id = $1`, [mpesaOrderId]);
    expect((await s(rows[0].mpesa_receipt.toLowerCase())).data.search).toEqual([{ __typename: 'Order', id: mpesaOrderId, status: 'FUNDED' }]);
    expect((await s('nothing-here')).data.search).toEqual([]);
  });
});

// ------------------------------------------------------------------------------ admin
describe('admin', () => {
  const RECON = `query($f: DateTime!, $t: DateTime!) { reconciliation(from: $f, to: $t) {
    paidNotOnChain { orderId receipt amountKes ageSeconds }
    onChainWithoutLedger { orderId receiptHash amount }
    amountMismatches { orderId receipt ledgerAmountKes chainAmount }
    payoutsDue { orderId role amount ageSeconds ledgerStatus }
    failedPayouts { orderId role status reason resultCode }
    dailyTotals { date paymentMode opening collected paidOut fees held balanced ledgerCollected }
    refundCases { kind orderId receipt phone amountKes reason status }
    balanced
  } }`;
  const range = () => ({ f: new Date(Date.now() - 3 * 86_400_000).toISOString(), t: new Date(Date.now() + 86_400_000).toISOString() });

  test('reconciliation lists every kind of discrepancy and daily totals that balance', async () => {
    const r = await gql(fx.api, RECON, range(), { token: tokens.admin });
    expect(r.errors).toBeUndefined();
    const rec = r.data.reconciliation;
    expect(rec.paidNotOnChain).toEqual([expect.objectContaining({ orderId: UNRECORDED.orderId, receipt: UNRECORDED.receipt, amountKes: UNRECORDED.amount })]);
    expect(rec.paidNotOnChain[0].ageSeconds).toBeGreaterThanOrEqual(590);
    expect(rec.amountMismatches).toEqual([{ orderId: MISMATCH.orderId, receipt: MISMATCH.receipt, ledgerAmountKes: MISMATCH.ledgerAmount, chainAmount: String(MISMATCH.chainAmount) }]);
    // The orders the test chain funded with the oracle key directly have no ledger receipt.
    const { rows } = await fx.pool.query(`SELECT id FROM ${fx.schema}.orders WHERE upper_inf(_block_range) AND payment_mode::text = 'MPESA' AND payment_receipt IS NOT NULL AND id <> ALL($1)`, [[MISMATCH.orderId, mpesaOrderId, QUERY_PAID.orderId]]);
    expect(rows.length).toBeGreaterThan(5);
    expect(rec.onChainWithoutLedger.map((o: { orderId: string }) => o.orderId).sort()).toEqual(rows.map((x: { id: string }) => x.id).sort());
    expect(rec.onChainWithoutLedger.map((o: { orderId: string }) => o.orderId)).not.toContain(mpesaOrderId);
    // A payment confirmed by STK Query (recorded under the oracle's CHECKOUT: key) is in agreement: in neither list.
    expect(rec.paidNotOnChain.map((o: { orderId: string }) => o.orderId)).not.toContain(QUERY_PAID.orderId);
    expect(rec.onChainWithoutLedger.map((o: { orderId: string }) => o.orderId)).not.toContain(QUERY_PAID.orderId);
    expect(rec.refundCases).toEqual([{ kind: 'PAID_TWICE', orderId: UNRECORDED.orderId, receipt: 'RCPTTWICE1', phone: '254708374149', amountKes: 777, reason: expect.stringMatching(/second payment/), status: 'OPEN' }]);
    expect(rec.payoutsDue.length).toBeGreaterThan(0);
    expect(rec.failedPayouts).toEqual([expect.objectContaining({ orderId: UNRECORDED.orderId, role: 'seller', status: 'needs_attention', resultCode: '2040' })]);
    expect(rec.dailyTotals.length).toBeGreaterThan(0);
    expect(rec.dailyTotals.every((d: { balanced: boolean }) => d.balanced)).toBe(true);
    expect(rec.balanced).toBe(true);
    const mpesaToday = rec.dailyTotals.filter((d: { paymentMode: string }) => d.paymentMode === 'MPESA');
    expect(mpesaToday.some((d: { ledgerCollected: string }) => BigInt(d.ledgerCollected) >= 1600n)).toBe(true);
  });

  test('paymentByReceipt finds the ledger row and the order', async () => {
    const { rows } = await fx.pool.query(`SELECT mpesa_receipt FROM oracle.payment_requests WHERE order_id = $1`, [mpesaOrderId]);
    const r = await gql(fx.api, `query($r: String!) { paymentByReceipt(receipt: $r) { kind receiptHash ledgerStatus amountKes phone order { id status } } }`, { r: rows[0].mpesa_receipt }, { token: tokens.admin });
    expect(r.data.paymentByReceipt).toEqual({ kind: 'PAYMENT', receiptHash: receiptHash(rows[0].mpesa_receipt), ledgerStatus: 'paid', amountKes: 1600, phone: '254708374149', order: { id: mpesaOrderId, status: 'FUNDED' } });
  });

  test('refundCases lists what a person must refund, by status; a bad status is a clear error', async () => {
    const r = await gql(fx.api, `{ refundCases { kind receipt phone amountKes status } }`, {}, { token: tokens.admin });
    expect(r.data.refundCases).toEqual([{ kind: 'PAID_TWICE', receipt: 'RCPTTWICE1', phone: '254708374149', amountKes: 777, status: 'OPEN' }]);
    expect((await gql(fx.api, `{ refundCases(status: REFUNDED) { kind } }`, {}, { token: tokens.admin })).data.refundCases).toEqual([]);
    expect(codes(await gql(fx.api, `{ refundCases(status: LOST) { kind } }`, {}, { token: tokens.admin }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, `{ refundCases { kind } }`, {}, { token: tokens.buyer }))).toEqual(['FORBIDDEN']);
  });

  test('closeRefundCase: an admin closes an open case once, with a note, audited; others and bad input change nothing', async () => {
    const CLOSE = `mutation($id: ID!, $o: RefundCaseOutcome!, $n: String!) { closeRefundCase(id: $id, outcome: $o, note: $n) { id status note resolvedAt receipt } }`;
    const [open] = (await gql(fx.api, `{ refundCases { id receipt } }`, {}, { token: tokens.admin })).data.refundCases;
    // Refused without changing anything: another role, a note too short, an id that is no id.
    expect(codes(await gql(fx.api, CLOSE, { id: open.id, o: 'REFUNDED', n: 'reversed' }, { token: tokens.seller }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(fx.api, CLOSE, { id: open.id, o: 'REFUNDED', n: 'ok' }, { token: tokens.admin }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await gql(fx.api, CLOSE, { id: 'x1', o: 'REFUNDED', n: 'reversed' }, { token: tokens.admin }))).toEqual(['BAD_USER_INPUT']);
    expect((await gql(fx.api, `{ refundCases { id } }`, {}, { token: tokens.admin })).data.refundCases).toEqual([{ id: open.id }]);

    const closed = await gql(fx.api, CLOSE, { id: open.id, o: 'REFUNDED', n: 'M-Pesa reversal RVS123ABC' }, { token: tokens.admin });
    expect(closed.errors).toBeUndefined();
    expect(closed.data.closeRefundCase).toMatchObject({ id: open.id, status: 'REFUNDED', receipt: 'RCPTTWICE1', note: expect.stringContaining('M-Pesa reversal RVS123ABC'), resolvedAt: expect.any(String) });
    // Once only: a second close (say, another admin at the same moment) is refused.
    expect(codes(await gql(fx.api, CLOSE, { id: open.id, o: 'DISMISSED', n: 'not owed after all' }, { token: tokens.admin }))).toEqual(['CONFLICT']);
    expect((await gql(fx.api, `{ refundCases { id } }`, {}, { token: tokens.admin })).data.refundCases).toEqual([]);
    expect((await gql(fx.api, `{ refundCases(status: REFUNDED) { id status } }`, {}, { token: tokens.admin })).data.refundCases).toEqual([{ id: open.id, status: 'REFUNDED' }]);
    const log = (await gql(fx.api, `{ auditLog(first: 5) { nodes { actor action subject } } }`, {}, { token: tokens.admin })).data.auditLog.nodes;
    expect(log[0]).toEqual({ actor: ADMIN.address.toLowerCase(), action: 'refund_case.refunded', subject: open.id });
  });

  test('admin operations refuse other roles', async () => {
    expect(codes(await gql(fx.api, RECON, range(), { token: tokens.buyer }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(fx.api, RECON, range()))).toEqual(['UNAUTHENTICATED']);
    expect(codes(await gql(fx.api, `{ paymentByReceipt(receipt: "ABC1234567") { kind } }`, {}, { token: tokens.seller }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(fx.api, RECON, { f: range().t, t: range().f }, { token: tokens.admin }))).toEqual(['BAD_USER_INPUT']);
  });
});

// ------------------------------------------------------------------------------ qualities
describe('my M-Pesa records', () => {
  test("myPayments and myPayouts list the signed-in user's own records only, newest first", async () => {
    const P = `query($b: DateTime) { myPayments(first: 50, before: $b) { orderId status amountKes receipt createdAt } }`;
    const mine = (await gql(fx.api, P, {}, { token: tokens.buyer })).data.myPayments;
    expect(mine.map((p: { orderId: string }) => p.orderId)).toContain(mpesaOrderId);
    expect(mine.find((p: { orderId: string }) => p.orderId === mpesaOrderId)).toMatchObject({ status: 'paid' });
    const times = mine.map((p: { createdAt: string }) => p.createdAt);
    expect([...times].sort().reverse()).toEqual(times);
    const { rows } = await fx.pool.query(`SELECT count(*)::int AS n FROM oracle.payment_requests WHERE lower(buyer) = $1`, [lc(BUYER.address)]);
    expect(mine.length).toBe(Math.min(rows[0].n, 50));
    expect((await gql(fx.api, P, {}, { token: tokens.stranger })).data.myPayments.map((p: { orderId: string }) => p.orderId)).not.toContain(mpesaOrderId);
    const older = (await gql(fx.api, P, { b: times[0] }, { token: tokens.buyer })).data.myPayments;
    expect(older.length).toBe(mine.length - 1);
    expect(codes(await gql(fx.api, P))).toEqual(['UNAUTHENTICATED']);

    const O = `{ myPayouts { orderId role status amountKes } }`;
    const payouts = (await gql(fx.api, O, {}, { token: tokens.seller })).data.myPayouts;
    const { rows: owed } = await fx.pool.query(`SELECT count(*)::int AS n FROM oracle.payouts WHERE lower(beneficiary) = $1`, [lc(SELLER.address)]);
    expect(payouts.length).toBe(owed[0].n);
    expect(payouts.length).toBeGreaterThan(0);
    expect(payouts.every((p: { role: string }) => p.role === 'seller' || p.role === 'buyer')).toBe(true);
    expect((await gql(fx.api, O, {}, { token: tokens.stranger })).data.myPayouts).toEqual([]);
  });
});

describe('admin operations', () => {
  test('users: admins list them by role and KYC state, newest first, with cursors; nobody else can', async () => {
    const USERS = `query($f: UserFilter, $a: String) { users(filter: $f, first: 2, after: $a) { nodes { address kyc { state } } pageInfo { hasNextPage endCursor } } }`;
    expect(codes(await gql(fx.api, USERS, {}, { token: tokens.seller }))).toEqual(['FORBIDDEN']);
    const sellers = await gql(fx.api, `{ users(filter: { role: SELLER }, first: 100) { nodes { address } } }`, {}, { token: tokens.admin });
    expect(sellers.data.users.nodes.map((u: { address: string }) => u.address)).toEqual(expect.arrayContaining([lc(SELLER.address), lc(STRANGER.address)]));
    expect(sellers.data.users.nodes.map((u: { address: string }) => u.address)).not.toContain(lc(BUYER.address));
    const admins = await gql(fx.api, `{ users(filter: { role: ADMIN }) { nodes { address } } }`, {}, { token: tokens.admin });
    expect(admins.data.users.nodes).toEqual([{ address: lc(ADMIN.address) }]);
    const approved = await gql(fx.api, `{ users(filter: { kycState: APPROVED }) { nodes { address kyc { state } } } }`, {}, { token: tokens.admin });
    expect(approved.data.users.nodes).toEqual([{ address: lc(SELLER.address), kyc: { state: 'APPROVED' } }]);
    // Pages do not repeat or skip anyone.
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 20; i++) {
      const page: any = await gql(fx.api, USERS, { a: after }, { token: tokens.admin });
      seen.push(...page.data.users.nodes.map((u: { address: string }) => u.address));
      if (!page.data.users.pageInfo.hasNextPage) break;
      after = page.data.users.pageInfo.endCursor;
    }
    const { rows } = await fx.pool.query(`SELECT count(*)::int AS n FROM app.users`);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(rows[0].n);
    expect(codes(await gql(fx.api, `{ users(filter: { kycState: MAYBE }) { nodes { address } } }`, {}, { token: tokens.admin }))).toEqual(['BAD_USER_INPUT']);
  });

  test('disputes: open ones first, oldest first, with what is at stake and both parties\' evidence', async () => {
    const Q = `query($open: Boolean, $a: String) { disputes(open: $open, first: 50, after: $a) {
      nodes { id ageSeconds amountAtStake currency statement raisedBy { address } dispute { resolved raisedAt } order { id status amount } buyerEvidence { uploader } sellerEvidence { uploader } }
      pageInfo { hasNextPage endCursor } } }`;
    expect(codes(await gql(fx.api, Q, {}, { token: tokens.buyer }))).toEqual(['FORBIDDEN']);
    const all = (await gql(fx.api, Q, {}, { token: tokens.admin })).data.disputes.nodes;
    const { rows } = await fx.pool.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE NOT resolved)::int AS open FROM ${fx.schema}.disputes WHERE upper_inf(_block_range)`);
    expect(all).toHaveLength(rows[0].n);
    const open = all.filter((d: { dispute: { resolved: boolean } }) => !d.dispute.resolved);
    expect(open.length).toBe(rows[0].open);
    expect(open.length).toBeGreaterThan(0);
    expect(all.slice(0, open.length).every((d: { dispute: { resolved: boolean } }) => !d.dispute.resolved)).toBe(true);
    const raised = open.map((d: { dispute: { raisedAt: string } }) => d.dispute.raisedAt);
    expect([...raised].sort()).toEqual(raised);
    for (const d of all) {
      expect(d.amountAtStake).toBe(d.order.amount);
      expect(d.id).toBe(d.order.id);
      expect(d.order.status).toBe(d.dispute.resolved ? 'RESOLVED' : 'DISPUTED');
    }
    const onlyOpen = (await gql(fx.api, Q, { open: true }, { token: tokens.admin })).data.disputes.nodes;
    expect(onlyOpen.map((d: { id: string }) => d.id)).toEqual(open.map((d: { id: string }) => d.id));
    // The dispute raised through prepareRaiseDispute carries its statement.
    expect(all.map((d: { statement: string | null }) => d.statement)).toContain('The basket arrived torn.');
  });

  test('payouts needing a person: listed; retried only on proof (else verified first); settled outside M-Pesa and recorded on chain; every action audited', async () => {
    const LIST = `{ payoutsNeedingAttention { id orderId role status resultCode amountKes } }`;
    expect(codes(await gql(fx.api, LIST, {}, { token: tokens.seller }))).toEqual(['FORBIDDEN']);
    const listed = (await gql(fx.api, LIST, {}, { token: tokens.admin })).data.payoutsNeedingAttention;
    const unrecorded = listed.find((p: { orderId: string }) => p.orderId === UNRECORDED.orderId);
    expect(unrecorded).toMatchObject({ role: 'seller', status: 'needs_attention', resultCode: '2040' });

    // A person's payout row the oracle could be asked about (test setup writes the ledger directly).
    const craft = async (orderId: string, amount: number, conversationId: string | null, beneficiary = lc(SELLER.address)) => {
      const id = randomUUID();
      await fx.pool.query(
        `INSERT INTO oracle.payouts (id, order_id, beneficiary, role, phone, amount_kes, originator_conversation_id, conversation_id, status, result_code, reason, attempt)
         VALUES ($1, $2, $3, 'seller', $4, $5, $6, $7, 'needs_attention', '2040', 'recipient not registered', 1)`,
        [id, orderId, beneficiary, SELLER_PHONE, amount, `api-test-${id.slice(0, 8)}`, conversationId],
      );
      return id;
    };
    const RETRY = `mutation($id: ID!, $r: String!) { retryPayout(id: $id, reason: $r) { outcome message payoutId } }`;
    const SETTLE = `mutation($id: ID!, $ref: String!, $r: String!) { settlePayout(id: $id, reference: $ref, reason: $r) { outcome payoutId receiptHash } }`;

    // Daraja accepted it and Transaction Status never said it failed: no retry, it is verified first.
    const accepted = await craft(`0x${randomBytes(32).toString('hex')}`, 900, 'AG_20261202_accepted');
    expect(codes(await gql(fx.api, RETRY, { id: accepted, r: 'phone fixed' }, { token: tokens.seller }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(fx.api, RETRY, { id: accepted, r: '' }, { token: tokens.admin }))).toEqual(['BAD_USER_INPUT']);
    const verifying = await gql(fx.api, RETRY, { id: accepted, r: 'the seller registered for M-Pesa' }, { token: tokens.admin });
    expect(verifying.data.retryPayout).toMatchObject({ outcome: 'VERIFYING', payoutId: accepted });
    expect(codes(await gql(fx.api, SETTLE, { id: accepted, ref: 'BANK-1', r: 'paid by bank' }, { token: tokens.admin }))).toEqual(['CONFLICT']);

    // Never accepted by Daraja: it cannot have paid, so a new attempt is queued.
    const retried = await gql(fx.api, RETRY, { id: unrecorded.id, r: 'the seller registered for M-Pesa' }, { token: tokens.admin });
    expect(retried.data.retryPayout.outcome).toBe('RETRIED');
    expect(retried.data.retryPayout.payoutId).not.toBe(unrecorded.id);
    const { rows: attempts } = await fx.pool.query(`SELECT id, status, attempt FROM oracle.payouts WHERE order_id=$1 AND role='seller' ORDER BY attempt`, [UNRECORDED.orderId]);
    expect(attempts.map((a: { status: string }) => a.status)[0]).toBe('failed');
    expect(attempts.at(-1)).toMatchObject({ id: retried.data.retryPayout.payoutId, attempt: 3 });

    // Settled outside M-Pesa: an M-Pesa order the chain says owes its seller, recorded on chain under the reference.
    const { rows: owing } = await fx.pool.query(
      `SELECT id, seller_id AS seller, seller_amount::int AS amount FROM ${fx.schema}.orders WHERE upper_inf(_block_range) AND payment_mode::text='MPESA' AND seller_payout_due AND NOT buyer_refund_due AND status::text='DELIVERED' LIMIT 1`);
    const target = owing[0] as { id: string; seller: string; amount: number };
    const manual = await craft(target.id, target.amount, null, target.seller);
    expect(codes(await gql(fx.api, SETTLE, { id: manual, ref: 'no', r: 'paid by bank' }, { token: tokens.admin }))).toEqual(['BAD_USER_INPUT']);
    const settled = await gql(fx.api, SETTLE, { id: manual, ref: 'BANK-REF-7781', r: 'paid by bank transfer' }, { token: tokens.admin });
    expect(settled.data.settlePayout).toMatchObject({ outcome: 'SETTLED', receiptHash: receiptHash('MANUAL:BANK-REF-7781') });
    await eventually(async () => (await gql(fx.api, `query($id: ID!) { order(id: $id) { status sellerPayoutDue } }`, { id: target.id })).data.order,
      (o) => o.status === 'COMPLETED' && o.sellerPayoutDue === false, 60_000, 'the settlement recorded on chain and indexed');
    const again = await craft(`0x${randomBytes(32).toString('hex')}`, 100, null);
    expect(codes(await gql(fx.api, SETTLE, { id: again, ref: 'BANK-REF-7781', r: 'same reference' }, { token: tokens.admin }))).toEqual(['CONFLICT']);

    const log = (await gql(fx.api, `{ auditLog(first: 10) { nodes { actor action subject } } }`, {}, { token: tokens.admin })).data.auditLog.nodes;
    expect(log.map((e: { action: string }) => e.action)).toEqual(expect.arrayContaining(['payout.settle', 'payout.retry.retried', 'payout.retry.verifying']));
    expect(log.find((e: { action: string }) => e.action === 'payout.settle')).toMatchObject({ actor: lc(ADMIN.address), subject: manual });
  }, 120_000);

  test('analytics: daily volume and fees per mode from the rollups, disputes and time to completion', async () => {
    const A = `query($f: DateTime!, $t: DateTime!) { analytics(from: $f, to: $t) {
      totals { paymentMode volumeFunded fees paidOut refunded } disputesOpened disputesResolved medianSecondsToComplete
      days { date modes { paymentMode volumeFunded fees } disputesOpened ordersCompleted } mpesaPayouts { attempts paid finished successRate } } }`;
    const f = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const t = new Date(Date.now() + 86_400_000).toISOString();
    expect(codes(await gql(fx.api, A, { f, t }, { token: tokens.seller }))).toEqual(['FORBIDDEN']);
    expect(codes(await gql(fx.api, A, { f: t, t: f }, { token: tokens.admin }))).toEqual(['BAD_USER_INPUT']);
    const a = (await gql(fx.api, A, { f, t }, { token: tokens.admin })).data.analytics;
    const { rows: totals } = await fx.pool.query(`SELECT id, volume_funded::text AS v, fees::text AS fees FROM ${fx.schema}.mode_totals WHERE upper_inf(_block_range)`);
    for (const row of totals) {
      expect(a.totals.find((x: { paymentMode: string }) => x.paymentMode === row.id)).toMatchObject({ volumeFunded: row.v, fees: row.fees });
    }
    const { rows: d } = await fx.pool.query(`SELECT count(*)::int AS n FROM ${fx.schema}.disputes WHERE upper_inf(_block_range)`);
    expect(a.disputesOpened).toBe(d[0].n);
    expect(a.days).toHaveLength(5);
    expect(a.days.reduce((n: number, x: { disputesOpened: number }) => n + x.disputesOpened, 0)).toBe(d[0].n);
    expect(a.medianSecondsToComplete).toBeGreaterThanOrEqual(0);
    const { rows: p } = await fx.pool.query(`SELECT count(*)::int AS n FROM oracle.payouts WHERE created_at >= $1 AND created_at < $2`, [f, t]);
    expect(a.mpesaPayouts.attempts).toBe(p[0].n);
    expect(a.mpesaPayouts.finished).toBeGreaterThan(0);
  });
});

describe('response cache and request bounds', () => {
  /** A funded native order of the buyer's, and the seller's call that ships it. */
  async function fundedOrder(): Promise<{ id: string; ship: () => Promise<number> }> {
    const c = await gql(fx.api, `mutation($i: CreateOrderInput!) { createOrder(input: $i) { orderId contractCall { to data value } } }`,
      { i: { productId, paymentMode: 'NATIVE', deliveryAddress: 'Ngong Rd 3, Nairobi' } }, { token: tokens.buyer });
    const { orderId, contractCall: cc } = c.data.createOrder;
    await fx.sendAs(BUYER.privateKey as Hex, { to: cc.to, data: cc.data, value: BigInt(cc.value) });
    await fx.catchUp();
    return {
      id: orderId,
      ship: async () => {
        const p = (await gql(fx.api, `mutation($id: ID!) { prepareMarkShipped(orderId: $id) { call { to data } } }`, { id: orderId }, { token: tokens.seller })).data.prepareMarkShipped;
        await fx.sendAs(SELLER.privateKey as Hex, { to: p.call.to, data: p.call.data });
        await fx.catchUp();
        return Date.now(); // the moment the index shows it
      },
    };
  }

  /** Poll order(id) every 20 ms until it is SHIPPED; returns when, and whether any answer came from the cache. */
  function pollUntilShipped(api: typeof fx.api, id: string): { seen: Promise<number>; hits: () => number } {
    let hits = 0;
    const seen = (async () => {
      for (let i = 0; i < 3_000; i++) {
        const r = await gql(api, `query($id: ID!) { order(id: $id) { id status } }`, { id });
        if (r.extensions?.responseCache?.hit) hits++;
        if (r.data.order.status === 'SHIPPED') return Date.now();
        await new Promise((res) => setTimeout(res, 20));
      }
      throw new Error('never saw SHIPPED');
    })();
    return { seen, hits: () => hits };
  }

  test('no entry outlives its TTL, however busy: a client polling faster than the TTL sees a change within TTL plus one indexing step', async () => {
    // Its own Redis prefix: no invalidation reaches this instance, so only the TTL can end an entry.
    const ttlOnly = await fx.makeApi({ API_CACHE_TTL_MS: '1000', ORDER_WATCH_INTERVAL_MS: '600000', REDIS_PREFIX: `descrow:ttl-${randomUUID()}:` });
    const { id, ship } = await fundedOrder();
    const poll = pollUntilShipped(ttlOnly, id);
    await new Promise((r) => setTimeout(r, 300));
    const indexedAt = await ship();
    const seenAt = await poll.seen;
    expect(poll.hits()).toBeGreaterThan(5); // the cache was in use
    expect(seenAt - indexedAt).toBeLessThanOrEqual(1_000 + 500);
  });

  test("the index changing an order drops that order's entries at once (long TTL), on every instance", async () => {
    const longTtl = await fx.makeApi({ API_CACHE_TTL_MS: '60000' });
    const { id, ship } = await fundedOrder();
    const poll = pollUntilShipped(longTtl, id);
    await new Promise((r) => setTimeout(r, 300));
    const indexedAt = await ship();
    expect((await poll.seen) - indexedAt).toBeLessThan(5_000);
    expect(poll.hits()).toBeGreaterThan(0);
  });

  test('private answers are cached per user; a mutation drops only the entities it returns', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await gql(fx.api, '{ me { address } }', {}, { token: tokens.buyer })).data.me.address).toBe(lc(BUYER.address));
      expect((await gql(fx.api, '{ me { address } }', {}, { token: tokens.seller })).data.me.address).toBe(lc(SELLER.address));
    }
    const q = `query($id: ID!) { order(id: $id) { id deliveryAddress } }`;
    expect((await gql(fx.api, q, { id: nativeOrderId }, { token: tokens.buyer })).data.order.deliveryAddress).toBe('Moi Avenue 12, Nairobi');
    const stranger = await gql(fx.api, q, { id: nativeOrderId }, { token: tokens.stranger });
    expect(stranger.data.order.deliveryAddress).toBeNull();
    const product = `query($id: ID!) { product(id: $id) { id title } }`;
    await gql(fx.api, product, { id: productId });
    const orderQ = `query($id: ID!) { order(id: $id) { id status } }`;
    await gql(fx.api, orderQ, { id: nativeOrderId });
    await gql(fx.api, `mutation($id: ID!) { updateProduct(id: $id, input: { title: "Kiondo basket, large" }) { id title } }`, { id: productId }, { token: tokens.seller });
    const after = await gql(fx.api, product, { id: productId });
    expect(after.data.product.title).toBe('Kiondo basket, large');
    expect((await gql(fx.api, orderQ, { id: nativeOrderId })).extensions?.responseCache?.hit).toBe(true);
  });

  test('the body limit holds for a chunked body as it is read, anonymous or signed in', async () => {
    for (const token of [undefined, tokens.buyer]) {
      let pulled = 0;
      const chunk = 256 * 1024;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          pulled += chunk;
          if (pulled > 200 * 1024 * 1024) c.close();
          else c.enqueue(new Uint8Array(chunk).fill(0x20));
        },
      });
      const r = await fx.api.yoga.fetch('http://api.test/graphql', {
        method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body, duplex: 'half',
      } as RequestInit);
      expect(r.status).toBe(413);
      expect(pulled).toBeLessThanOrEqual(fx.config.API_BODY_LIMIT + 4 * chunk);
    }
    const form = await fx.api.yoga.fetch('http://api.test/graphql', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{ __typename }' });
    expect(form.status).toBe(415);
  });

  test('introspection is off in production; in development it answers', async () => {
    const prod = await fx.makeApi({ NODE_ENV: 'production' });
    const r = await gql(prod, '{ __schema { types { name } } }');
    expect(r.data ?? null).toBeNull();
    expect(r.errors![0]!.message).toMatch(/introspection/i);
    expect((await gql(prod, '{ __typename }')).data.__typename).toBe('Query');
    expect((await gql(fx.api, '{ __schema { queryType { name } } }')).data.__schema.queryType.name).toBe('Query');
  });
});

describe('limits, errors, CORS, health', () => {
  test('an oversized, too deep or too costly query is refused before it runs', async () => {
    const fields = Array.from({ length: 1500 }, (_, i) => `a${i}: __typename`).join(' ');
    const big = await gql(fx.api, `{ ${fields} }`);
    expect(big.status).toBeLessThan(500);
    expect(big.data ?? null).toBeNull();
    expect(codes(big)[0]).toBe('BAD_USER_INPUT');
    expect(big.errors![0]!.message).toMatch(/token limit/i);
    const deep = await gql(fx.api, `{ orders { nodes { buyer { products { nodes { seller { products { nodes { seller { products { nodes { id } } } } } } } } } } } }`);
    expect(codes(deep)[0]).toBe('BAD_USER_INPUT');
    expect(deep.errors![0]!.message).toMatch(/depth/i);
    const costly = await gql(fx.api, `{ products(first: 100000) { nodes { id } } }`);
    expect(codes(costly)).toEqual(['BAD_USER_INPUT']);
    expect(costly.errors![0]!.message).toMatch(/Cost limit/i);
    const body = await fx.api.yoga.fetch('http://api.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(3 * 1024 * 1024) }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(body.status).toBe(413);
  });

  test('rate limits per IP and per user answer RATE_LIMITED', async () => {
    const limited = await fx.makeApi({ RATE_LIMIT_PER_IP: '3', RATE_LIMIT_PER_USER: '2', RATE_LIMIT_WINDOW_SECONDS: '60' });
    const ip = `10.0.0.${Math.floor(Math.random() * 250)}`;
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await gql(limited, '{ __typename }', {}, { peer: ip })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const r = await gql(limited, '{ __typename }', {}, { peer: ip });
    expect(codes(r)).toEqual(['RATE_LIMITED']);
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    // Per user, across IPs (a fresh wallet, so earlier tests' requests do not count).
    const fresh = privateKeyToAccount(`0x${'5'.repeat(63)}1`);
    const token = await login(fx.api, { address: fresh.address, privateKey: `0x${'5'.repeat(63)}1` });
    const user = [];
    for (let i = 0; i < 3; i++) user.push((await gql(limited, '{ me { address } }', {}, { token, peer: `10.1.${i}.${Math.floor(Math.random() * 250)}` })).status);
    expect(user).toEqual([200, 200, 429]);
  });

  test('unexpected failures are masked: no stack trace, no internals', async () => {
    const broken = await fx.makeApi({ INDEX_SCHEMA: 'no_such_schema' });
    const r = await gql(broken, `{ latestBlocks { number } }`);
    expect(r.status).toBe(200);
    expect(r.errors![0]!.message).toBe('Unexpected error.');
    expect(JSON.stringify(r)).not.toMatch(/no_such_schema|stack|at .*\.ts/);
  });

  test('CORS allows the configured origins only', async () => {
    const pre = (origin: string) => fx.api.yoga.fetch('http://api.test/graphql', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,authorization' } });
    expect((await pre('https://app.descrow.test')).headers.get('access-control-allow-origin')).toBe('https://app.descrow.test');
    expect((await pre('https://evil.example')).headers.get('access-control-allow-origin')).not.toBe('https://evil.example');
  });

  test('GET /health says which of Postgres, Redis, the index and the oracle is down; the timings and errors are on the private listener', async () => {
    // Public: the verdict per dependency (from a check at most HEALTH_CACHE_MS old), never error text.
    const res = await fx.api.yoga.fetch('http://api.test/health');
    const body = (await res.json()) as any;
    expect(res.status).toBe(200);
    expect(body.status).toBe('ok');
    expect(Object.keys(body.checks)).toEqual(['postgres', 'redis', 'index', 'oracle']);
    expect(body.checks.index).toEqual({ ok: true });
    const down = await fx.makeApi({ ORACLE_URL: 'http://127.0.0.1:1' });
    const d = await down.yoga.fetch('http://api.test/health');
    expect(d.status).toBe(503);
    const checks = ((await d.json()) as any).checks;
    expect(checks.oracle).toEqual({ ok: false });
    // The full report (lag, timings, the error) is for operators: the metrics listener only.
    const port = await freePort();
    const http = await listen(down, { ...down.deps.config, API_PORT: 0, API_HOST: '127.0.0.1', API_METRICS_PORT: port, API_METRICS_HOST: '127.0.0.1' });
    try {
      const deep = await fetch(`http://127.0.0.1:${port}/health`);
      expect(deep.status).toBe(503);
      const full = (await deep.json()) as any;
      expect(full.checks.index.lagBlocks).toBeLessThanOrEqual(fx.config.HEALTH_MAX_LAG_BLOCKS);
      expect(full.checks.oracle).toMatchObject({ ok: false, error: expect.any(String) });
    } finally {
      await http.close();
    }
  });

});
