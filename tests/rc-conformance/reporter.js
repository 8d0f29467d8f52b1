// Mocha reporter: prints each test as it finishes, then per test file how many tests
// passed, failed, were skipped (`it.skip`) or never ran (a failed `before` hook skips
// the rest of its block), and writes every failure with its reason to RC_REPORT_JSON.
'use strict';
const fs = require('fs');
const path = require('path');
const Mocha = require('mocha');
const { EVENT_TEST_PASS, EVENT_TEST_FAIL, EVENT_TEST_PENDING, EVENT_HOOK_END, EVENT_RUN_END } =
  Mocha.Runner.constants;

function fileOf(runnable) {
  for (let r = runnable; r; r = r.parent) if (r.file) return path.basename(r.file);
  return '?';
}

function allTests(suite, out = []) {
  out.push(...suite.tests);
  suite.suites.forEach((s) => allTests(s, out));
  return out;
}

class PalaverReporter extends Mocha.reporters.Base {
  constructor(runner, options) {
    super(runner, options);
    const failures = [];
    runner.on(EVENT_TEST_PASS, (t) => console.log(`  ok    ${fileOf(t)} :: ${t.fullTitle()}`));
    runner.on(EVENT_TEST_PENDING, (t) => console.log(`  skip  ${fileOf(t)} :: ${t.fullTitle()}`));
    runner.on(EVENT_TEST_FAIL, (t, err) => {
      const kind = t.type === 'hook' ? 'hook' : 'test';
      const reason = String((err && err.message) || err).split('\n')[0].slice(0, 300);
      console.log(`  FAIL  ${fileOf(t)} :: ${t.fullTitle()} -- ${reason}`);
      failures.push({ file: fileOf(t), kind, title: t.fullTitle(), reason });
    });
    runner.on(EVENT_HOOK_END, () => {});
    runner.once(EVENT_RUN_END, () => {
      const files = {};
      for (const t of allTests(runner.suite)) {
        const f = (files[fileOf(t)] ||= { total: 0, passed: 0, failed: 0, skipped: 0, notRun: 0 });
        f.total += 1;
        if (t.state === 'passed') f.passed += 1;
        else if (t.state === 'failed') f.failed += 1;
        else if (t.pending || t.isPending()) f.skipped += 1;
        else f.notRun += 1;
      }
      const rows = Object.entries(files).sort(([a], [b]) => a.localeCompare(b));
      const sum = { total: 0, passed: 0, failed: 0, skipped: 0, notRun: 0 };
      console.log('\nRocket.Chat API tests against Palaver');
      console.log('file                           total  passed  failed  skipped  not run');
      for (const [name, f] of rows) {
        for (const k of Object.keys(sum)) sum[k] += f[k];
        console.log(
          `${name.padEnd(30)} ${String(f.total).padStart(5)}  ${String(f.passed).padStart(6)}  ${String(f.failed).padStart(6)}  ${String(f.skipped).padStart(7)}  ${String(f.notRun).padStart(7)}`,
        );
      }
      console.log(
        `${'all'.padEnd(30)} ${String(sum.total).padStart(5)}  ${String(sum.passed).padStart(6)}  ${String(sum.failed).padStart(6)}  ${String(sum.skipped).padStart(7)}  ${String(sum.notRun).padStart(7)}`,
      );
      if (process.env.RC_REPORT_JSON) {
        fs.writeFileSync(process.env.RC_REPORT_JSON, JSON.stringify({ files, failures }, null, 2));
      }
    });
  }
}

module.exports = PalaverReporter;
