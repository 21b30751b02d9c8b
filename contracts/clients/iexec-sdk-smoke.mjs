// Smoke test with an unmodified PoCo client: the iexec SDK (npm `iexec@9.0.1`) drives Arca's
// contracts through their PoCo ABI — escrow deposit, app and workerpool registration, EIP-712
// order signing (the SDK hashes, the hub verifies), matchOrders, deal view, order cancellation.
// Usage: NODE_PATH=<dir with iexec's node_modules> node iexec-sdk-smoke.mjs RPC_URL DEPLOYMENT_JSON PRIVATE_KEY
import { createRequire } from 'module';
import fs from 'fs';
import assert from 'assert/strict';

// resolve `iexec` from NODE_PATH (the cached SDK install), which ESM imports ignore
const require = createRequire(import.meta.url);
const { IExec, utils } = await import(require.resolve('iexec'));

const [rpc, deploymentPath, key] = process.argv.slice(2);
const deployment = JSON.parse(fs.readFileSync(deploymentPath, 'utf8'));
const signer = utils.getSignerFromPrivateKey(rpc, key);
const iexec = new IExec(
  { ethProvider: signer },
  // the SMS and gateway are not used by these calls; the SDK only wants them configured
  { hubAddress: deployment.hub, allowExperimentalNetworks: true, smsURL: 'http://127.0.0.1:9', iexecGatewayURL: 'http://127.0.0.1:9' },
);
const me = await signer.getAddress();

// ethers v6 caches identical RPC answers for 250 ms (eth_getTransactionCount included): pause
// between transactions so the SDK never reuses a nonce
const settle = () => new Promise((resolve) => setTimeout(resolve, 400));
async function step(name, action) {
  const result = await action();
  await settle();
  console.log(`ok   ${name}`);
  return result;
}

const before = await step('account.checkBalance', () => iexec.account.checkBalance(me));
await step('account.deposit', () => iexec.account.deposit(1_000_000));
const app = await step('app.deployApp', () =>
  iexec.app.deployApp({ owner: me, name: 'smoke', type: 'DOCKER', multiaddr: 'registry/smoke:1.0', checksum: '0x' + '11'.repeat(32) }),
);
const shown = await step('app.showApp', () => iexec.app.showApp(app.address));
assert.equal(shown.app.appName, 'smoke');
assert.equal(shown.app.owner, me);
const pool = await step('workerpool.deployWorkerpool', () => iexec.workerpool.deployWorkerpool({ owner: me, description: 'smoke pool' }));
const category = await step('hub.showCategory', () => iexec.hub.showCategory(0));
assert.equal(category.name, 'XS');
assert.equal(Number(category.workClockTimeRef), 300);

const apporder = await step('order.signApporder', async () =>
  iexec.order.signApporder(await iexec.order.createApporder({ app: app.address, appprice: 0, volume: 10 }), { preflightCheck: false }),
);
const workerpoolorder = await step('order.signWorkerpoolorder', async () =>
  iexec.order.signWorkerpoolorder(await iexec.order.createWorkerpoolorder({ workerpool: pool.address, workerpoolprice: 100, volume: 10, category: 0 })),
);
const requestorder = await step('order.signRequestorder', async () =>
  iexec.order.signRequestorder(
    await iexec.order.createRequestorder({ app: app.address, appmaxprice: 0, workerpoolmaxprice: 100, requester: me, volume: 1, category: 0, params: { iexec_args: 'hello' } }),
    { preflightCheck: false },
  ),
);
const match = await step('order.matchOrders', () => iexec.order.matchOrders({ apporder, workerpoolorder, requestorder }, { preflightCheck: false }));
assert.equal(Number(match.volume), 1);
const deal = await step('deal.show', () => iexec.deal.show(match.dealid));
assert.equal(deal.app.pointer, app.address);
assert.equal(deal.workerpool.pointer, pool.address);
assert.equal(Number(deal.botSize), 1);
assert.equal(deal.requester, me);
assert.equal(JSON.parse(deal.params).iexec_args, 'hello');
const apphash = await iexec.order.hashApporder(apporder);
await step('order.cancelApporder', () => iexec.order.cancelApporder(apporder));
const consumed = await iexec.config.resolveContractsClient().then((c) => c.getIExecContract().viewConsumed(apphash));
assert.equal(Number(consumed), 10, 'a cancelled order is fully consumed');
const after = await step('account.checkBalance', () => iexec.account.checkBalance(me));
// deposit 1 000 000, then the deal locks the pool price (100) and the pool's 30 % stake (30)
assert.equal(Number(after.stake) - Number(before.stake), 1_000_000 - 130);
assert.equal(Number(after.locked) - Number(before.locked), 130);
console.log('iexec SDK smoke test passed');
