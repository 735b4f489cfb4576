/** Pure pieces: Daraja's loose types, error classes, phones, timestamps, constant-time checks, proxies. */
import { classifyEnvelope } from '../src/daraja/errors';
import { normalisePhone } from '../src/daraja/phone';
import { resultCallback, resultParam, stkCallback, stkPaidFields, stkQueryResult, timeoutNotice, tokenResponse } from '../src/daraja/schemas';
import { darajaTimestamp, stkPassword } from '../src/daraja/time';
import { clientAddress, safeEqual } from '../src/http/guards';
import { originatorConversationId } from '../src/flows/payoutWatcher';

test('the STK password matches the published test vector', () => {
  expect(stkPassword('174379', 'bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919', '20210628092408')).toBe(
    'MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQyYzkxOTIwMjEwNjI4MDkyNDA4',
  );
});

test('timestamps are Nairobi time (UTC+3) whatever the server zone', () => {
  expect(darajaTimestamp(new Date('2026-11-23T21:30:05Z'))).toBe('20261124003005');
});

test('numbers-or-strings are normalised once: "3599" and 3599, "1032" and 1032', () => {
  expect(tokenResponse.parse({ access_token: 'x', expires_in: '3599' }).expires_in).toBe(3599);
  expect(stkQueryResult.parse({ ResponseCode: '0', CheckoutRequestID: 'c', ResultCode: '1032', ResultDesc: 'x' }).ResultCode).toBe('1032');
  const cb = stkCallback.parse({ Body: { stkCallback: { MerchantRequestID: 'm', CheckoutRequestID: 'c', ResultCode: 0, ResultDesc: 'ok', CallbackMetadata: { Item: [
    { Name: 'PhoneNumber', Value: 254708374149 }, { Name: 'Balance' }, { Name: 'Amount', Value: 1.0 }, { Name: 'MpesaReceiptNumber', Value: 'nlj7rt61sv' }, { Name: 'TransactionDate', Value: 20191219102115 }] } } } });
  // Items are read by name, not position; the receipt is upper-cased.
  expect(stkPaidFields(cb)).toEqual({ amount: 1, receipt: 'NLJ7RT61SV', phone: '254708374149', transactionDate: '20191219102115' });
});

test('B2C results: one ResultParameter or many; timeout notices in both documented shapes', () => {
  const one = resultCallback.parse({ Result: { ResultType: 0, ResultCode: '2040', ResultDesc: 'x', OriginatorConversationID: 'o', ResultParameters: { ResultParameter: { Key: 'TransactionAmount', Value: 10 } } } });
  expect(resultParam(one, 'TransactionAmount')).toBe(10);
  expect(one.Result.ResultCode).toBe('2040');
  const spaced = resultCallback.parse({ Result: { ResultCode: 0, ResultDesc: 'x', OriginatorConversationID: 'o', ResultParameters: { ResultParameter: [{ Key: 'Conversation ID', Value: 'AG_1' }] } } });
  expect(resultParam(spaced, 'ConversationID')).toBe('AG_1');
  expect(timeoutNotice.parse({ Result: { ResultCode: 1, ResultDesc: 'timed out', OriginatorConversationID: 'abc' } })).toEqual({ originatorConversationId: 'abc' });
  expect(timeoutNotice.parse({ OriginatorConversationID: 'abc', Amount: 10, CommandID: 'BusinessPayment' })).toEqual({ originatorConversationId: 'abc' });
});

test('errors are classified on code and message together', () => {
  const c = (status: number, errorCode: string, errorMessage: string) => classifyEnvelope(status, { errorCode, errorMessage }, 'x').kind;
  expect(c(404, '404.001.03', 'Invalid Access Token')).toBe('invalid_token');
  expect(c(500, '500.003.02', 'Spike arrest violation')).toBe('retryable');
  expect(c(500, '500.001.1001', 'The transaction is being processed')).toBe('indeterminate');
  expect(c(500, '500.001.1001', 'Wrong credentials')).toBe('final');
  expect(c(500, '500.001.1001', 'Unable to lock subscriber, a transaction is already in process')).toBe('retryable');
  expect(c(500, '500.002.1001', 'Duplicate OriginatorConversationID.')).toBe('final');
  expect(c(500, '500.002.1001', 'System internal error.')).toBe('retryable');
  expect(c(400, '400.002.02', 'Bad Request - Invalid PhoneNumber')).toBe('final');
});

test('Kenyan phones normalise to 2547…/2541…; anything else is refused', () => {
  expect(normalisePhone('0712 345 678')).toBe('254712345678');
  expect(normalisePhone('+254-110-123456')).toBe('254110123456');
  expect(normalisePhone('254712345678')).toBe('254712345678');
  expect(normalisePhone('0612345678')).toBeNull();
  expect(normalisePhone('2547123456789')).toBeNull();
});

test('constant-time comparison and who really sent a callback', () => {
  expect(safeEqual('abc', 'abc')).toBe(true);
  expect(safeEqual('abc', 'abd')).toBe(false);
  expect(safeEqual('abc', 'abcd')).toBe(false);
  // X-Forwarded-For is believed only from our own proxies, and only up to the first foreign hop.
  expect(clientAddress('::ffff:10.0.0.5', '196.201.214.200', [])).toBe('10.0.0.5');
  expect(clientAddress('10.0.0.5', '1.2.3.4, 196.201.214.200', ['10.0.0.5'])).toBe('196.201.214.200');
  expect(clientAddress('10.0.0.5', '196.201.214.200, 10.0.0.6', ['10.0.0.5', '10.0.0.6'])).toBe('196.201.214.200');
});

test('payout ids are deterministic per order, beneficiary and attempt', () => {
  const id = '0x' + 'ab'.repeat(32);
  expect(originatorConversationId(id, 'seller', 1)).toBe(originatorConversationId(id, 'seller', 1));
  expect(originatorConversationId(id, 'seller', 1)).not.toBe(originatorConversationId(id, 'buyer', 1));
  expect(originatorConversationId(id, 'seller', 2)).not.toBe(originatorConversationId(id, 'seller', 1));
});
