import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { FAULTS, type FaultCode } from '../errors';
import { deliverySchema, outcomeSchema, ruleSchema } from '../rules';
import { ControlError, settingsPatchSchema, type DarajaSimState } from '../state';

/**
 * The control API under /__sim: what tests (and people at a terminal) use to steer the
 * simulator. Not Daraja: plain JSON, errors as `{error}`. See README.md.
 */
const resolveSchema = z
  .object({ outcome: outcomeSchema.optional(), delivery: deliverySchema.optional(), queryDisagrees: z.boolean().optional() })
  .strict();
const faultSchema = z
  .object({
    errorCode: z.enum(Object.keys(FAULTS) as [FaultCode, ...FaultCode[]]).default('500.003.02'),
    count: z.number().int().min(1).max(1000).default(1),
    path: z.string().startsWith('/').optional(),
    /** Instead of a count: every matching call fails for this long (an outage), then it recovers. */
    forMs: z.number().int().min(1).max(86_400_000).optional(),
  })
  .strict();
const balanceSchema = z.object({ balance: z.number().int().min(0) }).strict();
const listQuery = z.object({ phone: z.string().optional(), status: z.string().optional() });
/** A customer paying the Pay Bill from the M-Pesa menu: their phone, the account number they type, the amount. */
const payBillSchema = z
  .object({
    phone: z.string().regex(/^254(7|1)\d{8}$/, 'phone must be 2547XXXXXXXX or 2541XXXXXXXX'),
    amount: z.number().int().min(1).max(250_000),
    billRefNumber: z.string().min(1).max(20),
    shortCode: z.string().regex(/^\d{5,7}$/).optional(),
  })
  .strict();

const parse = <T extends z.ZodType>(schema: T, body: unknown): z.infer<T> => {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw new ControlError(400, z.prettifyError(r.error));
  return r.data;
};

export function controlRoutes(app: FastifyInstance, state: DarajaSimState) {
  app.get('/__sim/certificate', async (_req, reply) => reply.type('application/x-pem-file').send(state.credentials.certificatePem));

  app.get('/__sim/state', async () => ({
    settings: state.settings,
    rules: state.rules,
    faults: state.pendingFaults(),
    counts: { stk: state.stk.size, b2c: state.b2c.size, c2b: state.c2b.size, statusQueries: state.statusQueries.size, callbacks: state.callbacks.records.length, tokens: state.tokens.size },
    ledgerBalanced: state.ledger.snapshot().balanced,
  }));

  app.post('/__sim/reset', async () => {
    await state.reset();
    return { ok: true };
  });

  // settings and delivery mode
  app.get('/__sim/settings', async () => state.settings);
  app.patch('/__sim/settings', async (req) => state.updateSettings(parse(settingsPatchSchema, req.body)));
  app.put('/__sim/delivery', async (req) => {
    const d = parse(deliverySchema, req.body);
    return state.updateSettings({ delivery: d }).delivery;
  });

  // outcome rules
  app.get('/__sim/rules', async () => state.rules);
  app.put('/__sim/rules', async (req) => {
    state.setRules(parse(z.array(ruleSchema), req.body));
    return state.rules;
  });
  app.post('/__sim/rules', async (req, reply) => {
    state.addRule(parse(ruleSchema, req.body));
    return reply.code(201).send(state.rules);
  });
  app.delete('/__sim/rules', async () => {
    state.setRules([...state.config.DARAJA_SIM_RULES]);
    return state.rules;
  });

  // STK transactions
  app.get('/__sim/stk', async (req) => {
    const q = parse(listQuery, req.query);
    return [...state.stk.values()].filter((t) => (!q.phone || t.PhoneNumber === q.phone) && (!q.status || t.status === q.status));
  });
  app.get<{ Params: { id: string } }>('/__sim/stk/:id', async (req) => {
    const tx = state.stk.get(req.params.id);
    if (!tx) throw new ControlError(404, `no STK push ${req.params.id}`);
    return tx;
  });
  app.post<{ Params: { id: string } }>('/__sim/stk/:id/resolve', async (req) => state.resolveStk(req.params.id, parse(resolveSchema, req.body)));

  // B2C transactions
  app.get('/__sim/b2c', async (req) => {
    const q = parse(listQuery, req.query);
    return [...state.b2c.values()].filter((t) => (!q.phone || t.PartyB === q.phone) && (!q.status || t.status === q.status));
  });
  app.get<{ Params: { id: string } }>('/__sim/b2c/:id', async (req) => {
    const tx = state.b2c.get(req.params.id);
    if (!tx) throw new ControlError(404, `no B2C ${req.params.id}`);
    return tx;
  });
  app.post<{ Params: { id: string } }>('/__sim/b2c/:id/resolve', async (req) => {
    const body = parse(resolveSchema, req.body);
    if (body.queryDisagrees !== undefined) throw new ControlError(400, 'queryDisagrees applies to STK only');
    return state.resolveB2c(req.params.id, body);
  });

  // Pay Bill (C2B) payments
  app.post('/__sim/c2b/pay', async (req, reply) => {
    const tx = await state.payBill(parse(payBillSchema, req.body));
    return reply.code(tx.status === 'completed' ? 201 : 402).send(tx);
  });
  app.get('/__sim/c2b', async (req) => {
    const q = parse(listQuery, req.query);
    return [...state.c2b.values()].filter((t) => (!q.phone || t.MSISDN === q.phone) && (!q.status || t.status === q.status));
  });
  app.get('/__sim/c2b/registrations', async () => [...state.c2bRegistrations.values()]);

  app.get('/__sim/status-queries', async () =>
    [...state.statusQueries.values()].map(({ request: { SecurityCredential: _omit, ...request }, ...q }) => ({ ...q, request })),
  );

  // callbacks sent (or withheld)
  app.get('/__sim/callbacks', async (req) => {
    const q = req.query as { ref?: string; kind?: string };
    return state.callbacks.records.filter((r) => (!q.ref || r.ref === q.ref) && (!q.kind || r.kind === q.kind));
  });

  // gateway faults
  app.get('/__sim/faults', async () => state.pendingFaults());
  app.post('/__sim/faults', async (req, reply) => {
    const f = parse(faultSchema, req.body);
    state.injectFault(f.errorCode, f.count, f.path, f.forMs);
    return reply.code(201).send(state.pendingFaults());
  });
  app.delete('/__sim/faults', async () => {
    state.clearFaults();
    return [];
  });

  app.post('/__sim/tokens/expire', async () => ({ expired: state.tokens.expireAll() }));

  // the money
  app.get('/__sim/ledger', async () => state.ledger.snapshot());
  app.put<{ Params: { account: string } }>('/__sim/ledger/accounts/:account', async (req) => {
    const { balance } = parse(balanceSchema, req.body);
    const account = req.params.account;
    const m = /^(customer:254(?:7|1)\d{8}|paybill:\d{5,7}|utility:\d{5,7})$/.exec(account);
    if (!m) throw new ControlError(400, 'account must be customer:<msisdn>, paybill:<shortcode> or utility:<shortcode>');
    if (account.startsWith('customer:')) state.walletAccount(account.slice('customer:'.length));
    state.ledger.setBalance(account, balance);
    return { account, balance: state.ledger.balance(account) };
  });
}
