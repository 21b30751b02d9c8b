// Compiles every contracts/{src,test}/**/*.sol with the pinned solc-js (standard JSON) into
// contracts/artifacts/<Name>.json = {abi, bytecode:{object}, deployedBytecode:{object}, methodIdentifiers}.
// `node compile.js --check` recompiles in memory and fails if any committed artifact differs,
// so the artifacts can never drift from the sources.
'use strict';
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const ROOT = __dirname;
const OUT = path.join(ROOT, 'artifacts');
const check = process.argv.includes('--check');

function listSol(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? listSol(p) : e.name.endsWith('.sol') ? [p] : [];
  });
}

// Two compilation units: our contracts (src/) go through the IR pipeline, which packs the
// hub's deal/task storage writes better and lifts the legacy stack limit; test fixtures (test/)
// keep the legacy pipeline so their bytecode (used by the chain's differential tests) is stable.
const units = [
  { dirs: ['src'], viaIR: true },
  { dirs: ['test'], viaIR: false },
];

function findImports(p) {
  for (const c of [path.join(ROOT, p), path.join(ROOT, 'node_modules', p)]) {
    if (fs.existsSync(c)) return { contents: fs.readFileSync(c, 'utf8') };
  }
  return { error: 'File not found: ' + p };
}

const expected = {};
for (const unit of units) {
  const files = unit.dirs.flatMap((d) => listSol(path.join(ROOT, d))).sort();
  if (!files.length) continue;
  const sources = {};
  for (const f of files) sources[path.relative(ROOT, f)] = { content: fs.readFileSync(f, 'utf8') };
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'cancun',
      viaIR: unit.viaIR,
      metadata: { bytecodeHash: 'none' },
      remappings: ['@openzeppelin/=node_modules/@openzeppelin/'],
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
  const errors = (out.errors || []).filter((e) => e.severity === 'error');
  // warning 2018 ("can be restricted to pure/view") is deliberate in src/: PoCo's ABI declares
  // its constant getters `view` and importScore non-view, and the hub must match that ABI
  for (const e of out.errors || []) if (e.errorCode !== '2018') process.stderr.write(e.formattedMessage + '\n');
  if (errors.length) process.exit(1);
  for (const [file, contracts] of Object.entries(out.contracts || {})) {
    if (!sources[file]) continue; // skip imported libraries (OpenZeppelin)
    for (const [name, c] of Object.entries(contracts)) {
      // only deployable contracts: interfaces, abstract bases and internal libraries have no
      // artifact of their own (their ABI reaches the contracts that use them)
      if (!c.evm.bytecode.object || c.abi.length === 0) continue;
      if (expected[name + '.json']) throw new Error(`two contracts named ${name}: names must be unique across sources`);
      const artifact = {
        contractName: name,
        sourceName: file,
        compiler: 'solc ' + solc.version(),
        abi: c.abi,
        bytecode: { object: '0x' + c.evm.bytecode.object },
        deployedBytecode: { object: '0x' + c.evm.deployedBytecode.object },
        methodIdentifiers: c.evm.methodIdentifiers,
      };
      expected[name + '.json'] = JSON.stringify(artifact, null, 2) + '\n';
    }
  }
}

// The hub's public ABI is spread over the router and its facets; IexecHub.json is their union
// (deduplicated by signature), the one ABI that clients and the Rust bindings use at the hub.
const HUB_PARTS = ['Hub', 'ConfigFacet', 'EscrowFacet', 'OrderFacet', 'MatchFacet', 'TaskFacet', 'ViewFacet'];
if (HUB_PARTS.every((n) => expected[n + '.json'])) {
  const seen = new Set();
  const abi = [];
  const sig = (e) => e.type + ' ' + (e.name || '') + '(' + (e.inputs || []).map((i) => JSON.stringify(i)).join(',') + ')';
  for (const n of HUB_PARTS) {
    for (const e of JSON.parse(expected[n + '.json']).abi) {
      if (e.type === 'constructor' || (n !== 'Hub' && (e.type === 'fallback' || e.type === 'receive'))) continue;
      const k = sig(e);
      if (!seen.has(k)) { seen.add(k); abi.push(e); }
    }
  }
  expected['IexecHub.json'] = JSON.stringify({ contractName: 'IexecHub', sourceName: 'union of ' + HUB_PARTS.join(', '), abi }, null, 2) + '\n';
}

if (check) {
  const stale = [];
  for (const [f, text] of Object.entries(expected)) {
    const p = path.join(OUT, f);
    if (!fs.existsSync(p) || fs.readFileSync(p, 'utf8') !== text) stale.push(f);
  }
  const extra = fs.existsSync(OUT) ? fs.readdirSync(OUT).filter((f) => f.endsWith('.json') && !expected[f]) : [];
  if (stale.length || extra.length) {
    console.error('contract artifacts are out of date: ' + [...stale, ...extra.map((f) => f + ' (no source)')].join(', '));
    console.error('fix: cd contracts && npm ci && node compile.js, then commit contracts/artifacts');
    process.exit(1);
  }
  console.log(`contract artifacts up to date (${Object.keys(expected).length} contracts)`);
} else {
  fs.mkdirSync(OUT, { recursive: true });
  for (const [f, text] of Object.entries(expected)) {
    const p = path.join(OUT, f);
    fs.writeFileSync(p + '.tmp', text);
    fs.renameSync(p + '.tmp', p);
  }
  console.log(`wrote ${Object.keys(expected).length} artifacts to ${path.relative(process.cwd(), OUT) || '.'}`);
}
