// Seed 000's hello-world iExec app: greets its args (or "World"), writes the greeting to
// $IEXEC_OUT/result.txt and declares it as the deterministic output in computed.json.
const fs = require('fs');
const path = require('path');

const out = process.env.IEXEC_OUT;
const who = process.argv.slice(2).join(' ') || 'World';
const text = `Hello, ${who}!`;
console.log(text);
try {
  fs.writeFileSync(path.join(out, 'result.txt'), text);
  fs.writeFileSync(
    path.join(out, 'computed.json'),
    JSON.stringify({ 'deterministic-output-path': path.join(out, 'result.txt') }),
  );
} catch (e) {
  console.error(e);
  process.exit(1);
}
