'use strict';
// Runs Rocket.Chat's real parser over corpus.js and writes differential.json.
const path = require('path');
const util = require('util');
const { build, fresh, toJSON, writeCases } = require('./lib');
const { corpus } = require('./corpus');

build();
const { index } = fresh();
const out = [];
const seen = new Set();
const counts = {};
const problems = [];
for (const [cat, input, options] of corpus) {
  const key = JSON.stringify([input, options]);
  if (seen.has(key)) continue; // keep each (input, options) once
  seen.add(key);
  const run = (parse) => {
    try { return { value: toJSON(parse(input, options === null ? undefined : options)) }; } catch (e) { return { error: String(e.message) }; }
  };
  const r = run(index.parse);
  const isolated = run(fresh().index.parse); // a parser instance that has parsed nothing before
  if (!util.isDeepStrictEqual(r, isolated)) problems.push({ input, options, sequential: r, isolated });
  const c = { file: cat, input, options };
  if ('error' in r) { c.expected_error = true; c.error = r.error.slice(0, 60) + (r.error.length > 60 ? '...' : ''); } else c.expected = r.value;
  out.push(c);
  counts[cat] = (counts[cat] || 0) + 1;
}
writeCases(path.join(process.env.OUT_DIR, 'differential.json'), out);
console.log(JSON.stringify({ total: out.length, counts, problems }, null, 1));
