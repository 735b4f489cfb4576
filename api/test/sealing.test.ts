/**
 * Issue 25, point 6: the key that seals private documents (KYC files, tracking details,
 * dispute statements, evidence) is a secret of its own, in a keyring that rotates.
 *
 * Each case builds the API the way main.ts does (createApi with parsed settings) and uses
 * the content store it writes to. Attacks that worked before: JWT_SECRET alone decrypted
 * every document offline, and rotating JWT_SECRET made every stored document unreadable.
 */
import './support/prisma';
import { createDecipheriv, hkdfSync, createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from '@descrow/common';
import { apiEnvShape } from '../src/config';
import { createApi, ROOT, type Api } from '../src/app';
import { SealedStore } from '../src/data/sealedStore';

const store = mkdtempSync(join(tmpdir(), 'sealing-'));
const secret = () => randomBytes(24).toString('hex');
const address = () => `0x${randomBytes(20).toString('hex')}`;
const apis: Api[] = [];

/** The API as main.ts builds it, on a shared content store (nothing here touches the database). */
function apiWith(settings: Record<string, string>): Api {
  const api = createApi(parseEnv(apiEnvShape, {
    NODE_ENV: 'test', LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none', EVIDENCE_STORE: store,
    ESCROW_ADDRESS: address(), ORACLE_ADDRESS: address(), ARBITER_ADDRESS: address(), ...settings,
  }), { root: ROOT });
  apis.push(api);
  return api;
}

afterAll(async () => {
  for (const a of apis) await a.stop().catch(() => undefined);
});

/** What an attacker holding JWT_SECRET tries offline: the old derivation, at every header length, with and without the header as AAD. */
function openWithJwtSecret(sealed: Buffer, jwtSecret: string): Buffer | null {
  const key = Buffer.from(hkdfSync('sha256', jwtSecret, 'descrow-sealed-store', 'kyc-documents', 32));
  for (let at = 0; at < 64; at++) {
    for (const aad of [null, sealed.subarray(0, at)]) {
      try {
        if (sealed.length < at + 28) break;
        const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(at, at + 12), { authTagLength: 16 });
        if (aad) d.setAAD(aad);
        d.setAuthTag(sealed.subarray(at + 12, at + 28));
        return Buffer.concat([d.update(sealed.subarray(at + 28)), d.final()]);
      } catch {
        /* not at this offset */
      }
    }
  }
  return null;
}

const passport = Buffer.from('%PDF-1.4 passport of Jane Wanjiru, ID 12345678');

test('attack: JWT_SECRET alone opens no sealed document, and rotating JWT_SECRET loses none', async () => {
  const keys = `2026-01:${secret()}`;
  const before = apiWith({ JWT_SECRET: secret(), KYC_ENCRYPTION_KEYS: keys });
  const cid = await before.deps.sealed.put(passport, 'passport.pdf');
  const sealed = Buffer.from((await before.deps.store.get(cid))!);
  expect(sealed.includes(passport)).toBe(false);
  expect(openWithJwtSecret(sealed, before.deps.config.JWT_SECRET)).toBeNull();

  // JWT_SECRET rotated (every session signed out), the keyring kept: the document still opens.
  const after = apiWith({ JWT_SECRET: secret(), KYC_ENCRYPTION_KEYS: keys });
  expect(await after.deps.sealed.get(cid)).toEqual(passport);
});

test('a keyring rotates: the new key seals, old documents still open, and each document names its key', async () => {
  const k1 = `k1:${secret()}`;
  const k2 = `k2:${secret()}`;
  const jwt = { JWT_SECRET: secret() };
  const old = apiWith({ ...jwt, KYC_ENCRYPTION_KEYS: k1 });
  const oldKyc = await old.deps.sealed.put(passport, 'passport.pdf');
  const oldTracking = await old.deps.orderDocuments.put(Buffer.from('{"carrier":"G4S"}'), 'tracking.json');

  const rotated = apiWith({ ...jwt, KYC_ENCRYPTION_KEYS: `${k2},${k1}` });
  const newKyc = await rotated.deps.sealed.put(passport, 'passport-2.pdf');
  expect(await rotated.deps.sealed.get(oldKyc)).toEqual(passport);
  expect(await rotated.deps.sealed.get(newKyc)).toEqual(passport);
  expect((await rotated.deps.orderDocuments.get(oldTracking))!.toString()).toBe('{"carrier":"G4S"}');
  const keyOf = async (cid: string) => SealedStore.keyIdOf((await rotated.deps.store.get(cid))!);
  expect([await keyOf(oldKyc), await keyOf(newKyc)]).toEqual(['k1', 'k2']);

  // Once k1 is retired, what it sealed no longer opens; what k2 sealed does.
  const retired = apiWith({ ...jwt, KYC_ENCRYPTION_KEYS: k2 });
  expect(await retired.deps.sealed.get(oldKyc)).toBeNull();
  expect(await retired.deps.sealed.get(newKyc)).toEqual(passport);
  // Purposes are separate keys: a KYC document is not an order document.
  expect(await rotated.deps.orderDocuments.get(newKyc)).toBeNull();
});

test('the key id in a sealed document cannot be swapped, and bad rings are refused with the reason', async () => {
  const api = apiWith({ JWT_SECRET: secret(), KYC_ENCRYPTION_KEYS: `aa:${secret()},bb:${secret()}` });
  const sealed = Buffer.from((await api.deps.store.get(await api.deps.sealed.put(passport, 'p.pdf')))!);
  const swapped = Buffer.from(sealed);
  swapped.write('bb', 7, 'latin1'); // DSEAL2 | length | "aa" → "bb"
  expect(api.deps.sealed.open(sealed)).toEqual(passport);
  expect(api.deps.sealed.open(swapped)).toBeNull();

  const base = { JWT_SECRET: secret() };
  expect(() => apiWith({ ...base, KYC_ENCRYPTION_KEYS: 'no-colon-here-0123456789abcdef0123456789' })).toThrow(/KYC_ENCRYPTION_KEYS is invalid \(entry 1 must be <id>:<key>/);
  expect(() => apiWith({ ...base, KYC_ENCRYPTION_KEYS: `a:${secret()},a:${secret()}` })).toThrow(/key id "a" appears twice/);
  expect(() => apiWith({ ...base, KYC_ENCRYPTION_KEYS: 'a:short' })).toThrow(/key "a" is too short/);
});

test('documents sealed before key ids stay readable: with the old KYC_ENCRYPTION_KEY in the ring, and in development with the old JWT_SECRET default', async () => {
  /** The format written before the keyring: DSEAL1 | iv | tag | body, keyed from one secret. */
  const legacySeal = (from: string) => {
    const key = Buffer.from(hkdfSync('sha256', from, 'descrow-sealed-store', 'kyc-documents', 32));
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([c.update(passport), c.final()]);
    return Buffer.concat([Buffer.from('DSEAL1'), iv, c.getAuthTag(), body]);
  };
  const oldKey = secret();
  const ring = apiWith({ JWT_SECRET: secret(), KYC_ENCRYPTION_KEYS: `new:${secret()},old:${oldKey}` });
  expect(ring.deps.sealed.open(legacySeal(oldKey))).toEqual(passport);

  const devJwt = secret();
  const dev = apiWith({ JWT_SECRET: devJwt });
  expect(dev.deps.sealed.open(legacySeal(devJwt))).toEqual(passport);
  // New documents in development are sealed with the development key, never JWT_SECRET.
  const sealed = Buffer.from((await dev.deps.store.get(await dev.deps.sealed.put(passport, 'p.pdf')))!);
  expect(SealedStore.keyIdOf(sealed)).toBe('dev');
  expect(openWithJwtSecret(sealed, devJwt)).toBeNull();
});
