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

const files = [...listSol(path.join(ROOT, 'src')), ...listSol(path.join(ROOT, 'test'))].sort();
const sources = {};
for (const f of files) sources[path.relative(ROOT, f)] = { content: fs.readFileSync(f, 'utf8') };

const input = {
  language: 'Solidity',
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'cancun',
    viaIR: false,
    metadata: { bytecodeHash: 'none' },
    remappings: ['@openzeppelin/=node_modules/@openzeppelin/'],
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'] } },
  },
};

function findImports(p) {
  for (const c of [path.join(ROOT, p), path.join(ROOT, 'node_modules', p)]) {
    if (fs.existsSync(c)) return { contents: fs.readFileSync(c, 'utf8') };
  }
  return { error: 'File not found: ' + p };
}

const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
for (const e of out.errors || []) process.stderr.write(e.formattedMessage + '\n');
if (errors.length) process.exit(1);

const expected = {};
for (const [file, contracts] of Object.entries(out.contracts || {})) {
  if (!sources[file]) continue; // skip imported libraries (OpenZeppelin)
  for (const [name, c] of Object.entries(contracts)) {
    if (!c.evm.bytecode.object && c.abi.length === 0) continue;
    if (expected[name]) throw new Error(`two contracts named ${name}: names must be unique across sources`);
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
