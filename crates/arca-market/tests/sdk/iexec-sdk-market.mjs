// The unmodified iexec SDK (npm `iexec@9.0.1`) against `arca market`: challenge login,
// publication of app/workerpool/request orders, orderbook queries (with pagination and
// restriction flags as the SDK sends them), unpublish, and an on-chain match that removes the
// consumed orders from the orderbook.
// Usage: NODE_PATH=<dir with iexec's node_modules> node iexec-sdk-market.mjs RPC_URL HUB MARKET_URL PRIVATE_KEY
import { createRequire } from 'module';
import assert from 'assert/strict';

const require = createRequire(import.meta.url);
const { IExec, utils } = await import(require.resolve('iexec'));

const [rpc, hub, market, key] = process.argv.slice(2);
const signer = utils.getSignerFromPrivateKey(rpc, key);
const iexec = new IExec(
  { ethProvider: signer },
  { hubAddress: hub, allowExperimentalNetworks: true, smsURL: 'http://127.0.0.1:9', iexecGatewayURL: market },
);
const me = await signer.getAddress();
// ethers v6 caches identical RPC answers for 250 ms: pause between transactions
const settle = () => new Promise((resolve) => setTimeout(resolve, 400));
async function step(name, action) {
  const result = await action();
  await settle();
  console.log(`ok   ${name}`);
  return result;
}

await step('account.deposit', () => iexec.account.deposit(1_000_000));
const app = await step('app.deployApp', () =>
  iexec.app.deployApp({ owner: me, name: `market-smoke-${Date.now()}`, type: 'DOCKER', multiaddr: 'registry/m:1.0', checksum: '0x' + '22'.repeat(32) }),
);
const pool = await step('workerpool.deployWorkerpool', () => iexec.workerpool.deployWorkerpool({ owner: me, description: `market pool ${Date.now()}` }));
const apporder = await iexec.order.signApporder(await iexec.order.createApporder({ app: app.address, appprice: 0, volume: 1 }), { preflightCheck: false });
const workerpoolorder = await iexec.order.signWorkerpoolorder(await iexec.order.createWorkerpoolorder({ workerpool: pool.address, workerpoolprice: 100, volume: 10, category: 0 }));
const requestorder = await iexec.order.signRequestorder(
  await iexec.order.createRequestorder({ app: app.address, appmaxprice: 0, workerpoolmaxprice: 100, requester: me, volume: 1, category: 0, params: { iexec_args: 'hi' } }),
  { preflightCheck: false },
);

const appHash = await step('order.publishApporder', () => iexec.order.publishApporder(apporder, { preflightCheck: false }));
assert.equal(appHash, await iexec.order.hashApporder(apporder));
const poolHash = await step('order.publishWorkerpoolorder', () => iexec.order.publishWorkerpoolorder(workerpoolorder));
const reqHash = await step('order.publishRequestorder', () => iexec.order.publishRequestorder(requestorder, { preflightCheck: false }));

const apps = await step('orderbook.fetchAppOrderbook', () => iexec.orderbook.fetchAppOrderbook({ app: app.address }));
assert.equal(apps.count, 1);
assert.equal(apps.orders[0].orderHash, appHash);
assert.equal(apps.orders[0].status, 'open');
const one = await step('orderbook.fetchApporder', () => iexec.orderbook.fetchApporder(appHash));
assert.equal(one.order.app.toLowerCase(), app.address.toLowerCase());
const pools = await step('orderbook.fetchWorkerpoolOrderbook', () => iexec.orderbook.fetchWorkerpoolOrderbook({ workerpool: pool.address, category: 0 }));
assert.equal(pools.count, 1);
const requests = await step('orderbook.fetchRequestOrderbook', () => iexec.orderbook.fetchRequestOrderbook({ requester: me, app: app.address }));
assert.equal(requests.orders[0].orderHash, reqHash);

// unpublish then publish the pool order again
assert.equal(await step('order.unpublishWorkerpoolorder', () => iexec.order.unpublishWorkerpoolorder(poolHash)), poolHash);
assert.equal((await iexec.orderbook.fetchWorkerpoolOrderbook({ workerpool: pool.address, category: 0 })).count, 0);
await step('order.publishWorkerpoolorder (again)', () => iexec.order.publishWorkerpoolorder(workerpoolorder));

// the match consumes the app and request orders: the market hides them
await step('order.matchOrders', () => iexec.order.matchOrders({ apporder, workerpoolorder, requestorder }, { preflightCheck: false }));
for (let i = 0; ; i++) {
  const left = await iexec.orderbook.fetchAppOrderbook({ app: app.address });
  if (left.count === 0) break;
  assert.ok(i < 100, 'the filled app order is still in the orderbook');
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const remaining = await iexec.orderbook.fetchWorkerpoolOrderbook({ workerpool: pool.address, category: 0 });
assert.equal(Number(remaining.orders[0].remaining), 9);
console.log('iexec SDK market smoke test passed');
