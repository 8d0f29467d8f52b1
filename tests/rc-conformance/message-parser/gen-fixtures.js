'use strict';
// Runs every packages/message-parser/tests/*.test.ts of Rocket.Chat with stub jest
// globals that record each parse(input, options) + expect(...).toMatchObject(expected)
// pair instead of asserting, checks each one with jest's real `expect`, and writes
// rocketchat_fixtures.json.
const path = require('path');
const util = require('util');
const { BUILD, req, build, fresh, toJSON, writeCases } = require('./lib');

const OUT = process.env.OUT_DIR;
const realExpect = req('expect').expect;
const tests = build();
const cases = [];
const notes = [];
const counts = {};

for (const file of tests) {
  counts[file] = 0;
  const { index } = fresh();
  const realParse = index.parse;
  let pending = null; // the last parse call not yet matched with an expect
  let current = '';
  index.parse = (input, options) => {
    const actual = realParse(input, options);
    pending = { input, options, actualJSON: toJSON(actual) };
    return actual;
  };
  const matcher = (name) => (received) => ({
    [name]: (expected) => {
      if (!pending || pending.consumed || received === undefined || toJSON(received) === undefined) {
        notes.push({ file, test: current, note: `expect(...).${name} without a parse() call (helper test), not recorded` });
        let ok = true;
        try { realExpect(received)[name](expected); } catch (e) { ok = false; }
        notes[notes.length - 1].passes = ok;
        return;
      }
      pending.consumed = true;
      const c = { file, input: pending.input, options: pending.options === undefined ? null : pending.options, expected: toJSON(expected) };
      let pass = true;
      let message = '';
      try { realExpect(received)[name](expected); } catch (e) { pass = false; message = e.message; }
      const exact = util.isDeepStrictEqual(pending.actualJSON, c.expected);
      // Cross-check with a parser instance that has never parsed anything.
      const isolated = toJSON(fresh().index.parse(pending.input, pending.options));
      const sameIsolated = util.isDeepStrictEqual(isolated, pending.actualJSON);
      if (!exact) c.actual = pending.actualJSON;
      cases.push(c);
      counts[file]++;
      c._meta = { test: current, matcher: name, pass, exact, sameIsolated, message };
    },
  });
  const expect = (received) => {
    const m = {};
    for (const name of ['toMatchObject', 'toStrictEqual', 'toEqual', 'toBe']) Object.assign(m, matcher(name)(received));
    m.toThrow = () => notes.push({ file, test: current, note: 'toThrow not recorded' });
    return m;
  };
  const run = (name, fn, args) => {
    current = name;
    pending = null;
    fn(...args);
    if (pending && !pending.consumed) notes.push({ file, test: name, note: 'parse() called without expect' });
  };
  const test = (name, fn) => run(name, fn, []);
  test.each = (table) => (name, fn) => {
    for (const row of table) run(util.format(name, ...(Array.isArray(row) ? row : [row])).slice(0, 80), fn, Array.isArray(row) ? row : [row]);
  };
  const describe = (name, fn) => fn();
  describe.each = test.each;
  Object.assign(global, { test, it: test, describe, expect });
  // the tests import parse from '../src' (build/src/index.js, the instance patched above)
  require(path.join(BUILD, 'tests', file.replace(/\.ts$/, '.js')));
}

const problems = cases.filter((c) => !c._meta.pass || !c._meta.exact || !c._meta.sameIsolated);
const report = {
  counts,
  total: cases.length,
  notes,
  problems: problems.map((c) => ({ file: c.file, input: c.input, options: c.options, ...c._meta, message: c._meta.message.slice(0, 2000) })),
};
for (const c of cases) delete c._meta;
writeCases(path.join(OUT, 'rocketchat_fixtures.json'), cases);
console.log(JSON.stringify(report, null, 1));
