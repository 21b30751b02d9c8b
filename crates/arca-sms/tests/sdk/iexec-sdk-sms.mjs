// The unmodified iexec SDK (npm `iexec@9.0.1`) against `arca sms`: it pushes and checks a
// dataset key, a result-encryption public key (created, then updated), an app developer secret
// and a requester secret, and is refused when pushing a dataset key twice.
// Usage: NODE_PATH=<dir with iexec's node_modules> node iexec-sdk-sms.mjs RPC_URL HUB SMS_URL PRIVATE_KEY
import { createRequire } from 'module';
import assert from 'assert/strict';
import { generateKeyPairSync } from 'crypto';

const require = createRequire(import.meta.url);
const { IExec, utils } = await import(require.resolve('iexec'));

const [rpc, hub, sms, key] = process.argv.slice(2);
const signer = utils.getSignerFromPrivateKey(rpc, key);
const iexec = new IExec(
  { ethProvider: signer },
  { hubAddress: hub, allowExperimentalNetworks: true, smsURL: sms, iexecGatewayURL: 'http://127.0.0.1:9' },
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

const dataset = await step('dataset.deployDataset', () =>
  iexec.dataset.deployDataset({ owner: me, name: `sms-smoke-${Date.now()}`, multiaddr: '/ipfs/QmSms', checksum: '0x' + '33'.repeat(32) }),
);
assert.equal(await iexec.dataset.checkDatasetSecretExists(dataset.address), false);
const datasetKey = await iexec.dataset.generateEncryptionKey();
assert.equal(await step('dataset.pushDatasetSecret', () => iexec.dataset.pushDatasetSecret(dataset.address, datasetKey)), true);
assert.equal(await iexec.dataset.checkDatasetSecretExists(dataset.address), true);
await assert.rejects(iexec.dataset.pushDatasetSecret(dataset.address, datasetKey));
console.log('ok   dataset key push refused the second time');

const pem = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' });
assert.equal(await iexec.result.checkResultEncryptionKeyExists(me), false);
const pushed = await step('result.pushResultEncryptionKey', () => iexec.result.pushResultEncryptionKey(pem()));
assert.equal(pushed.isPushed, true);
assert.equal(await iexec.result.checkResultEncryptionKeyExists(me), true);
const updated = await step('result.pushResultEncryptionKey --force-update', () => iexec.result.pushResultEncryptionKey(pem(), { forceUpdate: true }));
assert.equal(updated.isUpdated, true);

const app = await step('app.deployApp', () =>
  iexec.app.deployApp({ owner: me, name: `sms-app-${Date.now()}`, type: 'DOCKER', multiaddr: 'registry/s:1.0', checksum: '0x' + '44'.repeat(32) }),
);
assert.equal(await iexec.app.checkAppSecretExists(app.address), false);
assert.equal(await step('app.pushAppSecret', () => iexec.app.pushAppSecret(app.address, 'app-dev-secret')), true);
assert.equal(await iexec.app.checkAppSecretExists(app.address), true);

assert.equal(await iexec.secrets.checkRequesterSecretExists(me, 'mail'), false);
const req = await step('secrets.pushRequesterSecret', () => iexec.secrets.pushRequesterSecret('mail', 'alice@example.org'));
assert.equal(req.isPushed, true);
assert.equal(await iexec.secrets.checkRequesterSecretExists(me, 'mail'), true);
console.log('all SDK push/check flows passed');
