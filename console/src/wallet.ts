/**
 * Wallets the console signs with, both EIP-1193 providers: the browser's (window.ethereum)
 * or, in development only, the dev chain's unlocked accounts. The dev wallet holds no
 * key: it asks anvil, which signs for its own well-known accounts; the API offers it
 * (consoleSettings.devWallet) only in development.
 */
export interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

export interface Signer {
  address: string;
  provider: Eip1193;
  /** "browser wallet" or "dev wallet (buyer)". */
  label: string;
}

export function browserProvider(): Eip1193 | null {
  return (globalThis as { ethereum?: Eip1193 }).ethereum ?? null;
}

export function devProvider(rpcUrl: string, address: string): Eip1193 {
  let id = 0;
  const rpc = async (method: string, params: unknown[]) => {
    const res = await fetch(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }) });
    const body = (await res.json()) as { result?: unknown; error?: { message: string } };
    if (body.error) throw new Error(body.error.message);
    return body.result;
  };
  return {
    request({ method, params = [] }) {
      if (method === 'eth_requestAccounts' || method === 'eth_accounts') return Promise.resolve([address]);
      if (method === 'eth_sendTransaction') return rpc(method, [{ ...(params[0] as object), from: address }]);
      return rpc(method, params);
    },
  };
}

const utf8Hex = (text: string) => `0x${Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('')}`;

export async function requestAddress(provider: Eip1193): Promise<string> {
  const accounts = (await provider.request({ method: 'eth_requestAccounts' })) as string[];
  if (!accounts[0]) throw new Error('the wallet shared no account');
  return accounts[0].toLowerCase();
}

export async function signMessage(signer: Signer, message: string): Promise<string> {
  return (await signer.provider.request({ method: 'personal_sign', params: [utf8Hex(message), signer.address] })) as string;
}

export interface PreparedCall { to: string; data: string; value: string; chainId: number }

/** Sends a call the API prepared and waits for it to be mined; throws if it reverted. */
export async function sendPrepared(signer: Signer, call: PreparedCall): Promise<string> {
  const chainId = Number(await signer.provider.request({ method: 'eth_chainId' }));
  if (chainId !== call.chainId) throw new Error(`the wallet is on chain ${chainId}; switch it to chain ${call.chainId}`);
  const hash = (await signer.provider.request({
    method: 'eth_sendTransaction',
    params: [{ from: signer.address, to: call.to, data: call.data, value: `0x${BigInt(call.value).toString(16)}` }],
  })) as string;
  const deadline = Date.now() + 120_000;
  for (;;) {
    const receipt = (await signer.provider.request({ method: 'eth_getTransactionReceipt', params: [hash] })) as { status: string } | null;
    if (receipt) {
      if (receipt.status !== '0x1') throw new Error(`transaction ${hash} reverted`);
      return hash;
    }
    if (Date.now() > deadline) throw new Error(`transaction ${hash} was not mined within two minutes`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
