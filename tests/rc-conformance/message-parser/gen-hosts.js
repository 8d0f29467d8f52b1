'use strict';
// Records what tldts returns for the strings the parser's autoLink/autoEmail
// (src/utils.ts) hand it, and writes hosts.json. Two sources: every tldts call made
// while parsing the inputs of rocketchat_fixtures.json and corpus.js (recorded by
// wrapping tldts.parse), and the EXTRA list below. Each entry:
//   input       the string given to tldts.parse
//   validHosts  the validHosts option: autoLink passes ['localhost', ...customDomains];
//               autoEmail passes none (null here) and its input is 'mailto:' + email
//   via         'autoLink' | 'autoEmail' (seen while parsing) or 'extra' (autoLink's options,
//               or autoEmail's for 'mailto:' inputs)
//   isIcann, isPrivate, isIp, domain, hostname, publicSuffix: tldts's answer
//               (options always include detectIp: false, allowPrivateDomains: true)
//   urlValid    whether `new URL(input)` succeeds: autoLink's isValidLink, which
//               decides between href = input and href = '//' + input
const fs = require('fs');
const path = require('path');
const { req, build, fresh, writeCases } = require('./lib');
const { corpus } = require('./corpus');

const OUT = process.env.OUT_DIR;
const tldts = req('tldts');
const realTld = tldts.parse;
const seen = new Map();
const key = (input, validHosts) => JSON.stringify([input, validHosts]);
tldts.parse = (input, options) => {
  const validHosts = options && options.validHosts ? options.validHosts : null;
  const k = key(input, validHosts);
  if (!seen.has(k)) seen.set(k, { input, validHosts, via: validHosts ? 'autoLink' : 'autoEmail' });
  return realTld(input, options);
};

build();
const { index } = fresh();
const fixtures = JSON.parse(fs.readFileSync(path.join(OUT, 'rocketchat_fixtures.json'), 'utf8'));
for (const c of fixtures) { try { index.parse(c.input, c.options === null ? undefined : c.options); } catch (e) { /* '' */ } }
for (const [, input, options] of corpus) { try { index.parse(input, options === null ? undefined : options); } catch (e) { /* '' */ } }
tldts.parse = realTld;

const EXTRA = [
  // schemes, paths, queries, ports, userinfo
  'https://rocket.chat', 'http://rocket.chat/path?q=1#frag', 'ftp://ftp.example.org/file', 'custom://rocket.chat/test',
  'ws://chat.example.com:8080/socket', 'wss://chat.example.com', 'file:///etc/passwd', 'data:text/plain,hello',
  'javascript:alert(1)', 'tel:+5511999999999', 'HTTPS://ROCKET.CHAT/PATH', 'Https://Rocket.Chat',
  'https://user:pass@rocket.chat/x', 'https://user@rocket.chat', 'https://user:p%40ss@example.com', 'user:pass@rocket.chat',
  'https://rocket.chat:443', 'https://rocket.chat:8080/x', 'rocket.chat:3000', 'https://rocket.chat:99999',
  'https://rocket.chat:abc', '//rocket.chat', '//rocket.chat/test', '//localhost:3000', '///rocket.chat',
  'rocket.chat/test', 'rocket.chat?x=1', 'rocket.chat#x', 'https://rocket.chat?', 'https://rocket.chat#',
  // trailing dots, case, odd labels
  'rocket.chat.', 'https://rocket.chat./x', 'rocket.chat..', 'ROCKET.CHAT', 'Example.COM', 'a..b.com', '.rocket.chat',
  '-rocket.chat', 'rocket-.chat', 'rocket_chat.com', 'under_score.example.com', 'a.b', 'a.b.c', 'x.y.z.w',
  'www', 'com', '.com', 'co.uk', 'www.co.uk', 'a.co.uk', 'b.a.co.uk', 'example.com.au', 'gov.uk', 'nhs.uk',
  'example.k12.ca.us', 'city.kawasaki.jp', 'www.city.kawasaki.jp', 'example.kawasaki.jp', 'example.ck', 'www.ck',
  // ICANN TLDs old and new
  'example.com', 'example.org', 'example.net', 'example.edu', 'example.gov', 'example.mil', 'example.int',
  'example.io', 'example.ai', 'example.dev', 'example.app', 'example.page', 'example.xyz', 'example.online',
  'example.museum', 'example.travel', 'example.zip', 'example.mov', 'example.rs', 'example.md', 'example.sh',
  'example.py', 'example.pl', 'example.js', 'example.ts', 'example.txt', 'example.json', 'example.html',
  'example.exe', 'example.sql', 'example.go', 'example.me', 'example.tv', 'example.cat', 'example.chat',
  'example.pizza', 'example.amazon', 'example.google', 'example.xn--p1ai', 'example.рф', 'example.中国',
  // private PSL suffixes
  'foo.github.io', 'github.io', 'a.blogspot.com', 'blogspot.com', 'foo.s3.amazonaws.com', 's3.amazonaws.com',
  'foo.herokuapp.com', 'herokuapp.com', 'foo.appspot.com', 'foo.netlify.app', 'foo.vercel.app', 'foo.pages.dev',
  'foo.workers.dev', 'foo.azurewebsites.net', 'foo.cloudfront.net', 'foo.firebaseapp.com', 'foo.gitlab.io',
  'foo.readthedocs.io', 'foo.ngrok.io', 'foo.duckdns.org', 'foo.dyndns.org', 'foo.no-ip.org', 'blogspot.co.uk',
  'foo.blogspot.com.br', 'foo.bar.github.io', 'foo.github.io.', 'user.github.io/repo',
  // special-use and non-TLDs
  'localhost', 'localhost:3000', 'localhost:3000/x', 'http://localhost:3000/x', 'foo.localhost', 'mylocalhost',
  'test.local', 'gitlab.local', 'test.internal', 'test.lan', 'test.home', 'test.corp', 'test.test',
  'test.example', 'test.invalid', 'test.onion', 'test.arpa', '1.0.0.127.in-addr.arpa', 'file.txt', 'file.md',
  'README.md', 'Cargo.toml', 'index.html', 'main.rs', 'script.js', 'v1.2.3', 'e.g', 'rocket.chattt',
  'internaltool.testt', 'internaltool.intranet',
  // IPs
  '127.0.0.1', '127.0.0.1:3000', 'http://127.0.0.1/x', '192.168.0.1', '10.0.0.1/path', '8.8.8.8', '1.2.3.4.5',
  '999.999.999.999', '0.0.0.0', '[::1]', 'http://[::1]:3000/', 'http://[2001:db8::1]/', '::1', '2001:db8::1',
  '1.1', '1.2.3',
  // punycode and unicode hosts
  'xn--bcher-kva.example', 'xn--mnchen-3ya.de', 'münchen.de', 'https://münchen.de/x', 'bücher.example',
  'https://例え.jp', '例え.jp', 'xn--r8jz45g.jp', 'пример.рф', 'xn--e1afmkfd.xn--p1ai', 'مثال.إختبار',
  'xn--fsqu00a.xn--0zwm56d', '𝕏.com', 'ÉXAMPLE.COM', 'straße.de', 'xn--strae-oqa.de',
  // emails the way autoEmail passes them, and other mailto forms
  'mailto:a@b.com', 'mailto:user@example.com', 'mailto:user@rocket.chat', 'mailto:user@example',
  'mailto:user@localhost', 'mailto:user@127.0.0.1', 'mailto:user@foo.github.io', 'mailto:user@file.txt',
  'mailto:USER@EXAMPLE.COM', 'mailto:user@example.co.uk', 'mailto:user@münchen.de', 'mailto:josé@example.com',
  'mailto:user@example.com?subject=hi', 'mailto:a@b@c.com', 'user@example.com', 'a@b.com', 'user@localhost',
];
const extraVH = [['localhost'], ['localhost', 'local', 'intranet', 'corp.example']];
for (const input of EXTRA) {
  // 'mailto:...' the way autoEmail asks (no validHosts); everything else the way autoLink does
  const validHosts = input.startsWith('mailto:') ? null : extraVH[0];
  const k = key(input, validHosts);
  if (!seen.has(k)) seen.set(k, { input, validHosts, via: 'extra' });
}
for (const input of ['gitlab.local', 'http://gitlab.local', 'internaltool.intranet', 'x.corp.example', 'corp.example', 'a.b.local', 'test.localhost', 'localhost', 'rocket.chat']) {
  const k = key(input, extraVH[1]);
  if (!seen.has(k)) seen.set(k, { input, validHosts: extraVH[1], via: 'extra' });
}

const urlValid = (s) => { try { return Boolean(new URL(s)); } catch (e) { return false; } };
const out = [];
for (const e of seen.values()) {
  const r = realTld(e.input, { detectIp: false, allowPrivateDomains: true, ...(e.validHosts && { validHosts: e.validHosts }) });
  out.push({
    input: e.input, validHosts: e.validHosts, via: e.via,
    isIcann: r.isIcann, isPrivate: r.isPrivate, isIp: r.isIp,
    domain: r.domain, hostname: r.hostname, publicSuffix: r.publicSuffix,
    urlValid: urlValid(e.input),
  });
}
writeCases(path.join(OUT, 'hosts.json'), out);
const byVia = {};
for (const e of out) byVia[e.via] = (byVia[e.via] || 0) + 1;
console.log(JSON.stringify({ total: out.length, byVia }));
