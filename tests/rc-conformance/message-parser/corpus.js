'use strict';
// The extra inputs for differential.json: [category, input, options?]. Without
// options a case uses DEFAULT, Rocket.Chat's server configuration with default
// settings (services/messages/service.ts getMarkdownConfig: HexColorPreview_Enabled
// true, emoticons always true, Message_CustomDomain_AutoLink '', Katex_Enabled true,
// Katex_Dollar_Syntax false, Katex_Parenthesis_Syntax true).
const DEFAULT = { colors: true, emoticons: true, customDomains: [], katex: { dollarSyntax: false, parenthesisSyntax: true } };
const NONE = null; // parse(input) with no options, as most of Rocket.Chat's tests do
const KATEX_ALL = { ...DEFAULT, katex: { dollarSyntax: true, parenthesisSyntax: true } };
const KATEX_DOLLAR = { ...DEFAULT, katex: { dollarSyntax: true, parenthesisSyntax: false } };
const KATEX_OFF = { colors: true, emoticons: true, customDomains: [] };
const NO_COLORS = { ...DEFAULT, colors: false };
const NO_EMOTICONS = { ...DEFAULT, emoticons: false };
const CUSTOM = { ...DEFAULT, customDomains: ['local', 'intranet', 'corp.example'] };

const c = (cat, list, options) => list.map((input) => [cat, input, options === undefined ? DEFAULT : options]);

const siteUrl = 'http://localhost:3000';
const corpus = [
  // Message texts from Rocket.Chat's REST API tests (apps/meteor/tests/end-to-end/api)
  ...c('api', [
    'Hello', 'Hello 2', 'Hello World', 'Message to create thread', 'Message updated invalid', 'Message updated',
    'Sample blocked message', 'Sample message 0', 'Sample message overwriting readonly status', 'Sample message',
    'Starting a Thread', 'This message has badword badword2', 'This message has ******* ********', 'Thread message',
    'fasfadsf', 'http://localhost:3000/images/logo/logo.png', 'https://github.com updated with bypass',
    'https://github.com updated', 'https://www.youtube.com/watch?v=T2v29gK8fP4 https://www.rocket.chat/',
    'https://www.youtube.com/watch?v=T2v29gK8fP4', 'just a random test message', 'method',
    'test message with ```https://github.com``` updated', 'test message with ```https://github.com```',
    'test message with https://github.com', 'updating test message with https://github.com', 'test message', 'test',
    'test1234', 'xss', 'msg1', 'Isso é um teste', 'Yay for gruggy!', 'This message was edited via API 2',
    'Sample message Updated', 'A test 123', 'Encrypted Message',
    `${siteUrl}/channel/general?msg=AbCdEf123456789XY updated`,
    `${siteUrl}/group/private-room?msg=AbCdEf123456789XY ${siteUrl}/channel/general?msg=ZyXw987654321 updated`,
    `Testing quotes ${siteUrl}/channel/general?msg=AbCdEf123456789XY`,
    '@rocket.cat making admin follow this thread', 'invite-all-from #private-group-1700000000000',
    [
      'https://www.youtube.com/watch?v=no050HN4ojo', 'https://www.youtube.com/watch?v=9iaSd13mqXA',
      'https://www.youtube.com/watch?v=MW_qsbgt1KQ', 'https://www.youtube.com/watch?v=hLF1XwH5rd4',
      'https://www.youtube.com/watch?v=Eo-F9hRBbTk', 'https://www.youtube.com/watch?v=08ms3W7adFI',
    ].join(' '),
    '<script>alert("xss")</script>', '<img src=x onerror=alert(1)>',
  ]),
  ...c('api', ['Hello World', 'test message with https://github.com'], NONE),

  // Emphasis: nesting, unclosed and unbalanced markers
  ...c('emphasis', [
    '*bold*', '**bold**', '_it_', '__it__', '~st~', '~~st~~', '*_~a~_*', '_*~a~*_', '~*_a_*~', '**bold _it_**',
    '*bold _it_ bold*', '_it *bold* it_', '~st *bold* st~', '*a ~b _c_ b~ a*', '***a***', '___a___', '~~~a~~~',
    '*a', 'a*', '*a _b*', '_a *b_', '*a* b*', '**a*', '*a**', '__a_', '_a__', '~~a~', '~a~~', '* a *', '*a *',
    '* a*', '** **', '__ __', '~~ ~~', '* *', '_ _', '~ ~', '** *', '*_*', '_*_', '*\n*', '*a\nb*', '_a\nb_',
    'snake_case_word', 'snake_case', 'a_b_c d_e', '_leading', 'trailing_', 'mid_dle_ word', '__init__',
    '__init__.py', 'file_name_v2.txt', 'x*y*z', 'a *b* c', 'a*b*c', '2*3*4', 'a _b_ c', 'a_b_c', 'a ~b~ c',
    'a~b~c', '~/path/to/file', '~user', 'hello~', '**bold** and __italic__ and ~~strike~~',
    '*bold with `code` inside*', '_it with @mention inside_', '*bold with #channel*', '~st with :smile:~',
    '*bold with https://rocket.chat link*', '_it https://rocket.chat_', '*[link](https://rocket.chat)*',
    '[*bold title*](https://rocket.chat)', '[_it title_](https://rocket.chat)', '*:)*', '_;)_', '*a* *b* *c*',
    '*a*b*c*', '_a_b_c_', '*😀*', '_😀 text_', '**', '__', '~~', '*', '_', '~', '*_', '_~', '~*',
  ]),

  // URLs
  ...c('url', [
    'https://rocket.chat', 'http://rocket.chat', 'rocket.chat', 'www.rocket.chat', 'https://rocket.chat/',
    'https://rocket.chat/path/to/page', 'https://rocket.chat/path?query=1&b=2', 'https://rocket.chat/path#fragment',
    'https://rocket.chat:8080/x', 'rocket.chat:8080', 'https://user:pass@rocket.chat/x', 'https://user@rocket.chat',
    'ftp://files.example.com/pub/file.tar.gz', 'custom://rocket.chat/test', 'ssh://git@github.com/a/b.git',
    'https://rocket.chat.', 'https://rocket.chat,', 'https://rocket.chat!', 'https://rocket.chat?', 'https://rocket.chat)',
    '(https://rocket.chat)', 'https://rocket.chat/a.', 'https://rocket.chat/a,b', 'https://rocket.chat/a!',
    'https://rocket.chat/a?', 'See https://rocket.chat.', 'See https://rocket.chat, ok', 'https://rocket.chat/a_(b)',
    'https://en.wikipedia.org/wiki/Rust_(programming_language)', 'https://rocket.chat/*bold*',
    'https://rocket.chat/~user', 'https://rocket.chat/a%20b', 'https://ROCKET.CHAT/X', 'HTTPS://rocket.chat',
    '//rocket.chat/test', 'rocket.chat/test', 'https://rocket.chat/test?x=[1]', 'https://a.b.c.rocket.chat',
    'https://xn--bcher-kva.example/', 'https://bücher.example/', 'https://münchen.de', 'münchen.de',
    'https://例え.jp', 'https://rocket.chat:99999', 'https://rocket.chat:', 'http://', 'https://', 'http:/rocket.chat',
    'https://rocket.chat https://github.com', 'https://rocket.chat\nhttps://github.com', 'a https://rocket.chat b',
    'https://rocket.chat"', "https://rocket.chat'", 'https://rocket.chat;', 'https://rocket.chat:', 'https://rocket.chat...',
    'https://rocket.chat/path/', 'https://rocket.chat/a/b/c.html?x=1#y', 'http://rocket.chat/@user',
    'https://open.rocket.chat/channel/general', 'https://rocket.chat/<tag>', 'https://rocket.chat/|x',
    'https://rocket.chat\ttab', 'x.com', 'X.COM', 'rocket.chattt/url_path', 'https://internaltool.testt',
    'https://example.com/very/long/path/with-dashes_and_underscores/and.dots/file.php?arg=val&arg2=val2&arg3=%3D#anchor',
  ]),
  // domains, public suffixes, non-TLDs, IPs, localhost
  ...c('domain', [
    'foo.github.io', 'a.blogspot.com', 'github.io', 'blogspot.com', 'foo.s3.amazonaws.com', 'spark-public.s3.amazonaws.com',
    'foo.herokuapp.com', 'test.co.uk', 'co.uk', 'example.com.br', 'example.museum', 'example.io', 'example.dev',
    'example.app', 'example.xyz', 'example.zip', 'example.mov', 'file.txt', 'file.md', 'a.b', 'test.local', 'test.localhost',
    'test.internal', 'test.test', 'test.example', 'test.invalid', 'test.onion', 'README.md', 'index.html', 'script.js',
    'main.rs', 'Cargo.toml', 'foo.bar', 'v1.2.3', '1.2.3', 'e.g.', 'i.e.', 'etc.', 'Mr.Smith', 'end.of.sentence.',
    'sub.domain.example.org', 'a-b.example.com', '-a.example.com', 'a_b.example.com', 'example.com.', 'example..com',
    '.example.com', 'EXAMPLE.COM', 'localhost', 'localhost:3000', 'localhost:3000/x', 'http://localhost:3000/x',
    'http://localhost', 'localhost/x', 'mylocalhost', 'http://127.0.0.1', 'http://127.0.0.1:3000/x', '127.0.0.1',
    '127.0.0.1:3000', '192.168.0.1', '10.0.0.1/path', '1.1.1.1', '999.999.999.999', '1.2.3.4.5', 'http://[::1]:3000/',
    'http://[2001:db8::1]/', 'gitlab.local', 'http://gitlab.local', 'internaltool.intranet', 'x.corp.example',
  ]),
  ...c('domain-custom', [
    'gitlab.local', 'http://gitlab.local', 'internaltool.intranet', 'https://internaltool.intranet/x', 'x.corp.example',
    'corp.example', 'a.b.local', 'test.localhost', 'localhost:3000/x', 'rocket.chat', 'file.txt',
  ], CUSTOM),
  ...c('domain-none', ['gitlab.local', 'rocket.chat', 'localhost:3000/x', 'file.txt', 'foo.github.io'], NONE),

  // emails and mailto
  ...c('email', [
    'user@example.com', 'user@rocket.chat', 'first.last@example.co.uk', 'user+tag@example.com', 'user_name@example.org',
    'user-name@sub.example.com', 'USER@EXAMPLE.COM', 'user@example', 'user@example.invalidtld', 'user@localhost',
    'user@127.0.0.1', 'user@foo.github.io', 'user@file.txt', 'user@@example.com', '@example.com', 'user@', 'user@.com',
    'user.@example.com', '.user@example.com', 'us..er@example.com', 'mailto:user@example.com', 'mailto:user@example',
    'mailto:', 'mailto:user', '<mailto:user@example.com|Mail me>', '[mail](mailto:user@example.com)',
    'Contact user@example.com, please.', 'email: user@example.com.', '(user@example.com)', 'user@example.com:8080',
    'josé@example.com', 'user@münchen.de', "o'brien@example.com", 'a!#$%&*+/=?^_`{|}~-b@example.com',
    'user@example.com/path', 'support@rocket.chat?subject=hi',
  ]),
  // phone numbers
  ...c('phone', [
    '+5511999999999', '+55 11 99999-9999', '+1-555-1234', '+(11)99999-9999', '+(11)9999', '+1234', '+12345', '1234',
    '12345', '075-63546725', '+075-63546725', 'call +5511987654321 now', '+55(11)987654321', '+55-11-987654321',
    '[call](+5511999999999)', '<+5511999999999|call me>', '2024-01-01', '10:30', '+', '+a1234567',
  ]),
  // mentions and channels
  ...c('mention', [
    '@user', '@user.name', '@user-name', '@user_name', '@a:b', '@user@server.com', '@@user', '@all', '@here',
    'hello @user!', '@user,', '@user.', '@user:', 'email@user', 'a@b', '@', '@ user', '@José', '@пользователь',
    '@用户', '@user1 @user2', '@user\n@user2', '#channel', '#channel-name', '#channel_name', '#channel.name', '#a:b',
    '##channel', 'issue#123', '#123', '#', '# channel', 'hello #general!', '#général', '@user #channel',
    '@rocket.cat', '@user.', '@.user', '@-user', '@user:server:extra', '@a@b@c', 'a#b',
  ]),
  // emoji shortcodes, unicode emoji, big emoji
  ...c('emoji', [
    ':smile:', ':smile::smile:', ':smile: :smile: :smile:', ':smile: :smile: :smile: :smile:', ':smile:text',
    'text:smile:', 'text :smile: text', ':+1:', ':-1:', ':+1_tone4:', ':e-mail:', ':a.b:', ':smile', 'smile:', '::',
    ': smile :', ':smile :', ':Smile_Face:', ':123:', '😀', '😀😀', '😀😀😀', '😀😀😀😀', '😀 😀', ' 😀 ', '\n😀\n',
    '😀 text', 'text 😀', '👍🏻', '👍🏿', '👋🏽 hi', '👨‍👩‍👧‍👦', '👩‍💻', '🧑🏾‍💻', '🏳️‍🌈', '🏴‍☠️', '❤️', '❤', '❤️‍🔥',
    '🇧🇷', '🇺🇸🇧🇷', '🇺🇸🇧🇷🇯🇵', '🇺', '⌚', '⌚️', '☀', '☀️', '✅', '✨', '⭐', '⬆️', '©', '®', '™', '🔥', '🚀',
    '🦀', '🥹', '🫠', '🪐', '1️⃣', '#️⃣', '😀:smile:', ':smile:😀', ':smile: 😀 :)', '😀 :)', ':) :) :)', ':) :) :) :)',
    '<3', '<3 <3', '😀\n\n😀',
  ]),
  // emoticons next to text
  ...c('emoticon', [
    ':)', ':-)', ':(', ':D', ';)', ':P', ':p', ':b', 'XD', ':/', ':\\', ':O', ':*', '<3', '</3', ':\'(', '>:(', 'D:',
    '(y)', '\\o/', '\\0/', '*\\o/*', '-_-', 'O_O', '>.<', ':$', ':@', ':#', ':X', 'B)', '8)', 'hello :)', 'hello:)',
    ':)hello', 'hello :) world', '(:)', 'http://a.b:)', 'x:)', '10:30', '8:00 am', 'B-)', 'Tip: try it', 'A:B',
    'O:)', '0:)', '=)', '=D', ':]', ';D', ":')", "':)", ':-.', ':L', 'D: no', 'hello D:', 'we <3 you', '*:)*',
  ]),
  ...c('emoticon-off', [':)', 'hello :)', '<3', ':) :)', ':smile: :)', '(y)'], NO_EMOTICONS),

  // code: inline and fences
  ...c('code', [
    '`code`', '``', '` `', '`a`b`', 'a `b` c', '`unclosed', '`*not bold*`', '`https://rocket.chat`', '`a\nb`',
    '```\ncode\n```', '```js\nconsole.log(1);\n```', '```javascript\nconst a = 1;\nconst b = 2;\n```',
    '```\n\n```', '```\n```', '```code```', '```js code```', '```\nline1\n\nline3\n```', '```c++\nint x;\n```',
    '```my lang\nx\n```', '```\n*bold*\n```', 'text\n```\ncode\n```\ntext', '```\ncode\n```\n```\nmore\n```',
    '```\nunclosed', '```\r\ncode\r\n```', '```\ncode\n```trailing', '    indented code', '\tcode',
    '```\n  indented\n\tTab\n```', '```py\n`inner`\n```', '``` \nx\n```', '```\n```\n```',
  ]),
  // headings
  ...c('heading', [
    '# H1', '## H2', '### H3', '#### H4', '##### H5', '###### H6', '#H1', '#  two spaces', '#\ttab', '# ', '#',
    '# H1\ntext', 'text\n# H1', '# *bold* heading', '# @user', '## https://rocket.chat', '# H1 #', ' # H1',
    '# H1\n## H2\n### H3', '#### four\n##### five',
  ]),
  // tasks and lists
  ...c('list', [
    '- [x] done', '- [ ] todo', '- [x] a\n- [ ] b', '- [X] upper', '- [] empty', '- [x]no space', '- [ ] *bold task*',
    '- item', '- a\n- b\n- c', '* item', '* a\n* b', '- a\n* b', '* a\n- b', '-item', '*item', '- ', '-  two spaces',
    '- *bold* item', '* *bold* item', '* item *', '1. one', '1. one\n2. two\n3. three', '1. one\n1. one', '10. ten',
    '0. zero', '1.no space', '1) paren', '01. leading zero', '1. *bold*', '1. a\n- b', '- a\n1. b', 'text\n- item',
    '- item\ntext', '123456789012345678901. big', '  - indented', '- [x] a\n- b', '1.\tTab',
  ]),
  // blockquotes
  ...c('quote', [
    '> quote', '>quote', '> quote\n> more', '> quote\ntext', 'text\n> quote', '> *bold*', '> > nested', '>',
    '> ', '>> double', '> # heading?', '> - list?', '> quote\n\n> other', '&gt; quote', '>\tTab',
  ]),
  // timestamps
  ...c('timestamp', [
    '<t:1630360800:R>', '<t:1630360800>', '<t:1630360800:t>', '<t:1630360800:T>', '<t:1630360800:d>',
    '<t:1630360800:D>', '<t:1630360800:f>', '<t:1630360800:F>', '<t:1630360800:x>', '<t:163036080>',
    '<t:16303608000>', '<t:abc>', 'at <t:1630360800:R> ok', '*<t:1630360800:R>*', '_<t:1630360800:R>_',
    '~<t:1630360800:R>~', '<t:1630360800:R><t:1630360800:R>', '<t:-1630360800>', '<t:1630360800:RR>',
  ]),
  // katex with each option
  ...c('katex', [
    '\\[x^2\\]', '\\(x^2\\)', '$$x^2$$', '$x^2$', 'a \\(b\\) c', 'a $b$ c', 'price $5 and $10', '\\[\nx\n\\]',
    '\\[unclosed', '\\(unclosed', '$$a$$ text', 'text $$a$$', '\\[a\\] text',
  ]),
  ...c('katex-all', ['\\[x^2\\]', '\\(x^2\\)', '$$x^2$$', '$x^2$', 'a $b$ c', 'price $5 and $10', '$$\na\n$$', '$$$a$$$', '$'], KATEX_ALL),
  ...c('katex-dollar', ['\\[x^2\\]', '\\(x^2\\)', '$$x^2$$', '$x^2$', 'a $b$ c', '$$a$$ b'], KATEX_DOLLAR),
  ...c('katex-off', ['\\[x^2\\]', '\\(x^2\\)', '$$x^2$$', '$x^2$'], KATEX_OFF),
  ...c('katex-none', ['\\[x^2\\]', '\\(x^2\\)', '$$x^2$$', '$x^2$'], NONE),
  // colors
  ...c('color', [
    'color:#ccc', 'color:#cccc', 'color:#c7c7c7', 'color:#c7c7c7c7', 'color:#c7c7c7c7c7', 'color:#c7', 'color:#zzz',
    'color:#CCC', 'color:#FFf', 'The color:#fff is white', 'color:#fff.', 'color:#fffx', 'color:#fff,', 'Color:#fff',
    'color: #fff', 'color:#fff color:#000',
  ]),
  ...c('color-off', ['color:#ccc', 'color:#c7c7c7', 'The color:#fff is white'], NO_COLORS),
  ...c('color-none', ['color:#ccc'], NONE),
  // escapes
  ...c('escaped', [
    '\\*not bold\\*', '\\_not it\\_', '\\~not st\\~', '\\`not code\\`', '\\#not channel', '\\.', '\\\\', '\\a', '\\',
    '\\@user', '\\:smile:', '*\\*a*', '1\\. not list', '\\# not heading', '\\> not quote', '\\- not list',
  ]),
  // links and images
  ...c('link', [
    '[title](https://rocket.chat)', '[](https://rocket.chat)', '[title](rocket.chat)', '[title](https://rocket.chat/a b)',
    '[title](https://rocket.chat) after', 'before [title](https://rocket.chat)', '[a](https://a.com) [b](https://b.com)',
    '[title]( https://rocket.chat)', '[title](not a url)', '[title](/relative/path)', '[title](#anchor)',
    '[title](file.txt)', '[title](https://rocket.chat', '[title]https://rocket.chat', '[[nested]](https://rocket.chat)',
    '[title with @mention](https://rocket.chat)', '[title :smile:](https://rocket.chat)', '[**b**](https://rocket.chat)',
    '<https://rocket.chat|Rocket.Chat>', '<https://rocket.chat|>', '<https://rocket.chat>', '<rocket.chat|Rocket>',
    '<https://rocket.chat|title with spaces>', '<https://rocket.chat|*bold*>', '<https://rocket.chat|Título>',
    '![](https://rocket.chat/logo.png)', '![alt](https://rocket.chat/logo.png)', '![alt text](https://rocket.chat/a.png) after',
    '![alt](not a url)', '![alt]', '[title](tel:+5511999999999)', '[title](mailto:a@b.com)', '[title](ftp://x.org/f)',
    '[x](https://rocket.chat/a_(b))', '[x](https://rocket.chat/?q=1&r=2)',
  ]),
  // astral-plane non-emoji, other unicode
  ...c('unicode', [
    '𝕏', '𠀀', 'a𝕏b', '𝕏 text', '𝐁𝐨𝐥𝐝', '*𝕏*', '@𝕏', '#𝕏', '𝕏.com', '日本語のテキスト', 'Ελληνικά', 'العربية',
    'עברית', 'नमस्ते', 'e\u0301', '\u200b', 'a\u200db', '\ufeffbom', '\u00a0nbsp', 'ﬁ ligature', '🄰', '🀄', '🃏',
  ]),
  // whitespace: CRLF, empty lines, trailing spaces, tabs
  ...c('whitespace', [
    'a\r\nb', 'a\rb', 'a\n\nb', 'a\n\n\nb', '\n', '\n\n', '\r\n', ' ', '  ', '\t', 'a ', 'a  ', ' a', 'a\t', '\ta',
    'a \nb', 'a  \n  b', '\na', 'a\n', 'a\n\n', '*a*\r\n_b_', '> q\r\n> r', '- a\r\n- b', '# H\r\nx', '1. a\r\n2. b',
    '```\r\nx\r\n```', ' \n ', '\t\n\t', 'a\u2028b', 'a\vb', 'a\fb',
  ]),
  ...c('runs', [
    '*'.repeat(2), '*'.repeat(3), '*'.repeat(4), '*'.repeat(10), '_'.repeat(3), '_'.repeat(10), '~'.repeat(3), '~'.repeat(10),
    '*_~'.repeat(5), '**a**'.repeat(5), '*'.repeat(5) + 'a' + '*'.repeat(5), '_'.repeat(5) + 'a' + '_'.repeat(5),
    '~'.repeat(5) + 'a' + '~'.repeat(5), '-'.repeat(10), '='.repeat(10), '#'.repeat(10), '>'.repeat(5) + ' x',
    '`'.repeat(5), '`'.repeat(6) + '\nx\n' + '`'.repeat(6), ':'.repeat(10), '@'.repeat(5) + 'user', '.'.repeat(10),
    'a'.repeat(500), ('word ').repeat(100),
  ]),
  // mixed real-world messages
  ...c('mixed', [
    'Hey @john, check https://rocket.chat/docs and #general :smile:',
    '**Release 6.0** is out! See https://github.com/RocketChat/Rocket.Chat/releases 🎉',
    'Meeting at <t:1630360800:F>, bring *snacks* :)',
    '> Original message\nMy reply with _emphasis_',
    '1. First *step*\n2. Second `step`\n3. Done ✅',
    'Email me at john.doe@example.com or call +1-555-0100',
    'Run `npm install` then ```\nnpm start\n```',
    'Is this 100% ~~wrong~~ right?', 'Price: $10 or 20€', 'C:\\Users\\name\\file.txt', '/usr/bin/env',
    'path/to/file.rs:42:7', 'v2.0.0-beta.1', 'user@host:~$ ls -la', 'a -> b => c', '<div>html</div>', '&amp; &lt; &gt;',
    'Hello\nWorld\n\nNew paragraph', '   ', 'ok.', 'Yes!!!', '???', '...', 'hi 👋🏽 @user',
  ]),
];
// '' never reaches the parser in Rocket.Chat (BeforeSaveMarkdownParser checks message.msg first); peggy throws on it.
corpus.push(['error', '', DEFAULT]);
module.exports = { corpus, DEFAULT };
