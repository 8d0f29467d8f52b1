// The part of Rocket.Chat's `@rocket.chat/random` (a workspace package, not on npm)
// that its API tests use: random ids in Meteor's alphabet.
'use strict';
const crypto = require('crypto');

const UNMISTAKABLE = '23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz';
const BASE64 = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';

function pick(alphabet, n) {
  let out = '';
  for (const byte of crypto.randomBytes(n)) out += alphabet[byte % alphabet.length];
  return out;
}

const Random = {
  id: (n = 17) => pick(UNMISTAKABLE, n),
  secret: (n = 43) => pick(BASE64, n),
  hexString: (n) => crypto.randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n),
  fraction: () => crypto.randomBytes(4).readUInt32BE() / 2 ** 32,
  choice: (arrayOrString) => arrayOrString[Math.floor(Random.fraction() * arrayOrString.length)],
};

module.exports = { Random };
