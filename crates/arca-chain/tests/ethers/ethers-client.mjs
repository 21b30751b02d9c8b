// An unmodified ethers v6 client against `arca chain`: deploys ChainProbe, sends EIP-1559
// transactions with fees from getFeeData, calls views, reads events (queryFilter and a live
// contract.on listener over WebSocket), decodes revert reasons and custom errors, estimates gas.
// Usage: node ethers-client.mjs <http-url> <ws-url> <ChainProbe.json>
import { ethers } from 'ethers';
import fs from 'node:fs';
import assert from 'node:assert/strict';

const [url, wsUrl, artifactPath] = process.argv.slice(2);
const artifact = JSON.parse(fs.readFileSync(artifactPath, 'utf8'));
const provider = new ethers.JsonRpcProvider(url, undefined, { cacheTimeout: -1 });
const wallet = new ethers.Wallet('0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80', provider);

const network = await provider.getNetwork();
assert.equal(network.chainId, 1337n);
const fees = await provider.getFeeData();
assert.ok(fees.maxFeePerGas > 0n && fees.maxPriorityFeePerGas > 0n, 'EIP-1559 fee data');

const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode.object, wallet);
const probe = await factory.deploy(5n);
await probe.waitForDeployment();
assert.equal(await probe.counter(), 5n);

const ws = new ethers.WebSocketProvider(wsUrl);
const wsProbe = new ethers.Contract(await probe.getAddress(), artifact.abi, ws);
const heard = new Promise((resolve) => wsProbe.on('Incremented', (by, value) => resolve(value)));

const estimate = await probe.increment.estimateGas(7n, ethers.id('tag'));
const tx = await probe.increment(7n, ethers.id('tag'), { gasLimit: estimate });
const receipt = await tx.wait();
assert.equal(receipt.status, 1);
assert.equal(tx.type, 2, 'ethers sends EIP-1559');
assert.ok(receipt.gasUsed <= estimate);
assert.equal(await probe.counter(), 12n);

const events = await probe.queryFilter(probe.filters.Incremented(wallet.address), 0, 'latest');
assert.equal(events.length, 1);
assert.equal(events[0].args.newValue, 12n);
assert.equal(await Promise.race([heard, new Promise((_, no) => setTimeout(() => no(new Error('no WS event')), 5000))]), 12n);

await assert.rejects(probe.failWithString('ethers sees this'), (e) => e.reason === 'ethers sees this');
await assert.rejects(probe.failWithCustom(9n), (e) => e.revert?.name === 'Custom' && e.revert.args[0] === 9n);

const signature = await wallet.signTypedData(
  { name: 'iExecODB', version: '5.0.0', chainId: 1337, verifyingContract: await probe.getAddress() },
  { AppOrder: [{ name: 'app', type: 'address' }, { name: 'appprice', type: 'uint256' }] },
  { app: wallet.address, appprice: 0 },
);
assert.equal(signature.length, 132);
await ws.destroy();
console.log('ethers v6 client: deploy, EIP-1559 fees, calls, events (HTTP and WS), reverts, estimateGas — ok');
