'use strict';
// Shared helpers: builds Rocket.Chat's message parser from its sources (the
// grammar with peggy, the TypeScript with typescript's transpiler) into
// $RC_WORK/build and loads fresh instances of it.
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

const WORK = process.env.RC_WORK;
if (!WORK) throw new Error('RC_WORK is not set (run generate.sh)');
const PKG = path.join(WORK, 'message-parser'); // packages/message-parser of Rocket.Chat
const BUILD = path.join(WORK, 'build');
const req = createRequire(path.join(WORK, 'package.json'));

function transpile(tsFile, outFile) {
  const ts = req('typescript');
  const out = ts.transpileModule(fs.readFileSync(tsFile, 'utf8'), {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2019,
      esModuleInterop: true,
    },
    fileName: tsFile,
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, out.outputText);
}

function build() {
  fs.rmSync(BUILD, { recursive: true, force: true });
  const peggy = req('peggy');
  for (const f of fs.readdirSync(path.join(PKG, 'src'))) {
    if (f.endsWith('.ts')) transpile(path.join(PKG, 'src', f), path.join(BUILD, 'src', f.replace(/\.ts$/, '.js')));
  }
  // Exactly what loaders/pegtransform.js (their jest transform) does. The output keeps
  // the name grammar.pegjs so that index.js's require('./grammar.pegjs') finds it;
  // node loads files of unknown extension as CommonJS.
  const grammar = peggy.generate(fs.readFileSync(path.join(PKG, 'src', 'grammar.pegjs'), 'utf8'), {
    output: 'source',
    format: 'commonjs',
  });
  fs.writeFileSync(path.join(BUILD, 'src', 'grammar.pegjs'), grammar);
  const tests = fs.readdirSync(path.join(PKG, 'tests')).filter((f) => f.endsWith('.test.ts')).sort();
  for (const f of tests) transpile(path.join(PKG, 'tests', f), path.join(BUILD, 'tests', f.replace(/\.ts$/, '.js')));
  return tests;
}

// A fresh instance of the parser's modules (the grammar keeps skipBold etc. in
// module-level variables; jest gives each test file its own module registry).
function fresh() {
  for (const k of Object.keys(require.cache)) if (k.startsWith(BUILD + path.sep)) delete require.cache[k];
  return {
    index: require(path.join(BUILD, 'src', 'index.js')),
    utils: require(path.join(BUILD, 'src', 'utils.js')),
  };
}

// JSON the way the result would travel: undefined properties dropped.
const toJSON = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

// Rust strings (and serde_json) cannot hold unpaired UTF-16 surrogates.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const hasLoneSurrogate = (v) =>
  typeof v === 'string' ? LONE_SURROGATE.test(v)
    : v && typeof v === 'object' ? Object.entries(v).some(([k, x]) => hasLoneSurrogate(k) || hasLoneSurrogate(x))
      : false;

function writeCases(file, cases) {
  for (const c of cases) if (hasLoneSurrogate(c)) throw new Error('unpaired surrogate in case ' + JSON.stringify(c.input));
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '[\n' + cases.map((c) => JSON.stringify(c)).join(',\n') + '\n]\n');
}

module.exports = { WORK, PKG, BUILD, req, build, fresh, toJSON, writeCases };
