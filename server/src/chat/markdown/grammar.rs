//! Rocket.Chat's message grammar (`packages/message-parser/src/grammar.pegjs`),
//! rule for rule in rust-peg. Rule names are the original's in snake case, and the
//! order of every choice is the original's: a PEG's meaning is its order.
//!
//! The original runs on UTF-16 code units; this runs on characters. The two agree
//! except where the original would split a surrogate pair, which only its emoji
//! rules (written as surrogate pairs, here as code point ranges) and `EmojiChar`
//! (folded into "any astral character") notice.

use super::classes::{ALPHA_CHAR, DECIMAL_NUMBER_CHAR};
use super::context::{enter, in_class, Context};
use super::nodes::{self, Phone};
use super::Options;
use crate::store::message_md::MdNode;

peg::parser! {
pub(super) grammar message(opts: &Options, state: &Context) for str {
    pub rule start() -> Vec<MdNode>
        = e:big_emoji() ![_] { e }
        / b:(blocks() / paragraph() / end_of_line() { MdNode::Paragraph { value: vec![MdNode::plain("")] } })+ { b }

    rule blocks() -> MdNode
        = blockquote() / code() / heading() / tasks() / ordered_list() / unordered_list() / katex() / line_break()

    rule blockquote() -> MdNode = b:blockquote_line()+ { MdNode::Quote { value: b } }

    rule blockquote_line() -> MdNode = ">" [' ' | '\t']* p:paragraph() { p }

    rule timestamp_type() -> char = c:['t' | 'T' | 'd' | 'D' | 'f' | 'F' | 'R'] { c }

    rule unixtime() -> &'input str = $(digit()*<10>)

    rule timestamp() -> MdNode
        = "<t:" date:unixtime() ":" format:timestamp_type() ">" { nodes::timestamp(date, Some(format)) }
        / "<t:" date:unixtime() ">" { nodes::timestamp(date, None) }

    rule code() -> MdNode
        = "```" language:code_language()? end_of_line() lines:code_line()+ end_of_line() "```"
          { nodes::code(lines, language) }

    rule code_language() -> &'input str
        = $(['a'..='z' | 'A'..='Z' | '0'..='9' | ' ' | '_' | '-' | '.']+)

    rule code_line() -> MdNode
        = chunk:code_chunk() { MdNode::CodeLine { value: Box::new(chunk) } }
        / "\n" chunk:code_chunk() { MdNode::CodeLine { value: Box::new(chunk) } }
        / "\n" !"```" { MdNode::CodeLine { value: Box::new(MdNode::plain("")) } }

    rule code_chunk() -> MdNode = text:$((!end_of_line() !"```" [_])+) { MdNode::plain(text) }

    rule heading() -> MdNode
        = count:heading_start() [' ' | '\t']+ text:heading_chunk()
          { MdNode::Heading { level: count, value: vec![text] } }

    rule heading_start() -> u8 = value:$("#"*<1,4>) { value.len() as u8 }

    rule heading_chunk() -> MdNode = text:$((!end_of_line() [_])+) { MdNode::plain(text) }

    rule tasks() -> MdNode = items:task()+ { MdNode::Tasks { value: items } }

    rule task() -> MdNode
        = "- [" status:task_flag() "]" [' ' | '\t']+ value:inline() { MdNode::Task { status, value } }

    rule task_flag() -> bool = "x" { true } / " " { false }

    rule ordered_list() -> MdNode = items:ordered_list_item()+ { MdNode::OrderedList { value: items } }

    rule ordered_list_item() -> MdNode
        = number:digits() "." [' ' | '\t']+ text:inline() { nodes::list_item(text, Some(number)) }

    rule unordered_list() -> MdNode
        = items:(unordered_list_hyphen_item()+ / unordered_list_asterisk_item()+)
          { MdNode::UnorderedList { value: items } }

    rule unordered_list_hyphen_item() -> MdNode
        = "-" [' ' | '\t']+ text:inline() { nodes::list_item(text, None) }

    rule unordered_list_asterisk_item() -> MdNode
        = "*" [' ' | '\t']+ text:unordered_list_item_content() { nodes::list_item(text, None) }

    rule unordered_list_item_content() -> Vec<MdNode>
        = value:unordered_list_item_content_item()+ !"*" end_of_line()? { nodes::reduce_plain_texts(value) }

    rule unordered_list_item_content_item() -> Vec<MdNode>
        = inline_item() / !"*" a:any() { a }

    rule katex() -> MdNode
        = katex_start() content:$((!katex_end() [_])*) katex_end() { MdNode::Katex { value: content.into() } }

    rule parenthesis_syntax() = {? if opts.katex_parenthesis() { Ok(()) } else { Err("katex") } }

    rule dollar_syntax() = {? if opts.katex_dollar() { Ok(()) } else { Err("katex") } }

    rule katex_start() = parenthesis_syntax() "\\[" / dollar_syntax() "$$"

    rule katex_end() = parenthesis_syntax() "\\]" / dollar_syntax() "$$"

    rule katex_inline() -> MdNode
        = katex_inline_start() content:$((!katex_inline_end() [_])*) katex_inline_end()
          { MdNode::InlineKatex { value: content.into() } }

    rule katex_inline_start() = parenthesis_syntax() "\\(" / dollar_syntax() "$"

    rule katex_inline_end() = parenthesis_syntax() "\\)" / dollar_syntax() "$"

    rule line_break() -> MdNode = space()* end_of_line() { MdNode::LineBreak {} }

    rule paragraph() -> MdNode = value:inline() { MdNode::Paragraph { value } }

    rule inline() -> Vec<MdNode>
        = value:(inline_item() / any())+ end_of_line()? { nodes::reduce_plain_texts(value) }

    rule step() = {? state.step() }

    rule inline_item() -> Vec<MdNode>
        = step() i:inline_item_unbudgeted() { i }

    rule inline_item_unbudgeted() -> Vec<MdNode>
        = n:whitespace() { vec![n] }
        / n:timestamp() { vec![n] }
        / maybe_references()
        / n:autolinked_phone() { vec![n] }
        / n:autolinked_email() { vec![n] }
        / n:autolinked_url() { vec![n] }
        / n:emphasis_with_whitespace() { vec![n] }
        / emphasis()
        / n:user_mention() { vec![n] }
        / n:channel_mention() { vec![n] }
        / n:emoji() { vec![n] }
        / n:inline_code() { vec![n] }
        / n:image() { vec![n] }
        / n:emoticon() { vec![n] }
        / n:color() { vec![n] }
        / n:katex_inline() { vec![n] }
        / n:escaped() { vec![n] }

    // Links: [title](href), [](href), <href|title>; images: ![title](href).

    rule references() -> Vec<MdNode>
        = "[" title:link_title()* "](" href:link_ref() ")" {
            if title.is_empty() {
                vec![nodes::link(href, None)]
            } else {
                vec![nodes::link(href, Some(nodes::reduce_plain_texts(title)))]
            }
        }
        / "<" href:link_ref() "|" title:link_title2() ">" {
            vec![nodes::link(href, Some(vec![MdNode::plain(title)]))]
        }

    rule link_title() -> Vec<MdNode> = step() t:link_title_unbudgeted() { t }

    rule link_title_unbudgeted() -> Vec<MdNode>
        = n:whitespace() { vec![n] }
        / emphasis()
        / title:$(!("](" [_]) [_]) { vec![MdNode::plain(title)] }

    rule link_title2() -> &'input str
        = $((['\x20'..='\x3B' | '\x3D' | '\x3F'..='\x60' | '\x61'..='\x7B' | '\x7D'..='\u{FF}'] / non_ascii())+)

    rule link_ref() -> String
        = u:url() { u.to_string() }
        / f:file_path() { f.to_string() }
        / p:phone() { format!("tel:{}", p.number) }

    rule file_path() -> &'input str = $(url_scheme() url_body()+)

    rule image() -> MdNode
        = "![" title:line()? "](" href:link_ref() ")" { nodes::image(href, title) }

    rule url() -> &'input str
        = $(url_scheme() url_authority() url_body()*)
        / $(url_authority_host() url_body()*)

    rule url_scheme() -> &'input str = $(['A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '-']*<1,32> ":")

    /// `(!(extra()+ (whitespace() / end_of_line()) / whitespace()) (any_text() / ['*' |
    /// '[' | '/' | ']' | '^' | '_' | '`' | '{' | '}' | '~' | '(']))+`, from its table:
    /// the grammar tries a URL after every character, and each try scanned the rest.
    rule url_body() = #{|_, pos| Context::run(&state.url_body_runs, pos)}

    rule url_authority() = "//" url_authority_user_info()? url_authority_host()

    rule url_authority_user_info() = url_authority_user() (":" url_authority_password())? "@"

    rule url_authority_user() = (alpha_digit() / !['@' | '/'] safe())+

    rule url_authority_password() = (alpha_digit() / !['@' | '/'] safe())+

    rule url_authority_host() = url_authority_host_name() (":" url_authority_port())?

    rule url_authority_host_name() = domain_name() / (digits() **<4,4> ".")

    rule url_authority_port() = digits()

    rule domain_name() = "localhost" / domain_name_label() ("." domain_char() domain_name_label()*)+

    rule domain_name_label() = domain_chars() ("-" domain_chars())*

    /// `domain_char()+`, from its table.
    rule domain_chars() = #{|_, pos| Context::run(&state.domain_runs, pos)}

    rule domain_char()
        = !extra() (['_' | '-'] / !safe()) !end_of_line() !space()
          !['\\' | '/' | '|' | '>' | '<' | '%' | '`'] [_]

    // Phone numbers: +55 (11) 9999-9999 and the like.

    rule phone() -> Phone
        = "+" p:phone_number() { Phone { text: format!("+{}", p.text), number: p.number } }

    rule phone_number() -> Phone
        = p:phone_prefix() "-" d:digits() { Phone { text: format!("{}-{d}", p.text), number: p.number + d } }
        / p:phone_prefix() d1:digits() "-" d2:digits() {
            Phone { text: format!("{}{d1}-{d2}", p.text), number: p.number + d1 + d2 }
        }
        / p:phone_prefix() d:digits() { Phone { text: p.text + d, number: p.number + d } }
        / d:digits() { Phone { text: d.into(), number: d.into() } }

    rule phone_prefix() -> Phone
        = d:digits() { Phone { text: d.into(), number: d.into() } }
        / "(" d:digits() ")" { Phone { text: format!("({d})"), number: d.into() } }

    rule autolinked_phone() -> MdNode = p:phone() { nodes::phone_checker(p) }

    // E-mail addresses.

    rule email() -> &'input str = "mailto:"? e:$(local_part() "@" domain_name()) { e }

    rule local_part() = local_part_chars() ("." local_part_chars())*

    /// `local_part_char()+`, from its table.
    rule local_part_chars() = #{|_, pos| Context::run(&state.local_part_runs, pos)}

    rule autolinked_email() -> MdNode = e:email() { nodes::auto_email(e) }

    // Bare URLs: rocket.chat, https://rocket.chat, and the operator's own domains.

    rule autolinked_url() -> MdNode = u:auto_link_url() { nodes::auto_link(u, &opts.custom_domains) }

    rule auto_link_url() -> &'input str
        = $(url_scheme() url_authority() auto_link_url_body()?)
        / $(url_authority_host() auto_link_url_body()?)

    /// `(!(extra()* (whitespace() / end_of_line())) [_])+`, from its table.
    rule auto_link_url_body() = #{|_, pos| Context::run(&state.auto_link_body_runs, pos)}

    // Emphasis: **bold**, _italic_, ~~strike~~, each never inside itself.

    rule emphasis() -> Vec<MdNode> = maybe_bold() / maybe_italic() / maybe_strikethrough()

    rule enter_bold() = {? enter(&state.bold) }
    rule enter_italic() = {? enter(&state.italic) }
    rule enter_strike() = {? enter(&state.strike) }
    rule enter_references() = {? enter(&state.references) }
    rule leave_bold() = {? { state.bold.set(false); Err("bold") } }
    rule leave_italic() = {? { state.italic.set(false); Err("italic") } }
    rule leave_strike() = {? { state.strike.set(false); Err("strike") } }
    rule leave_references() = {? { state.references.set(false); Err("references") } }

    // Never reached (the rule before it always fails); it only shows the generator
    // that the alternative consumes input, as the original's `BlockedByJavascript`.
    rule blocked_by_code() = "unreachable"

    rule maybe_bold() -> Vec<MdNode>
        = enter_bold() r:(t:bold() { state.bold.set(false); t } / leave_bold() blocked_by_code() { vec![] }) { r }

    rule maybe_strikethrough() -> Vec<MdNode>
        = enter_strike() r:(t:strikethrough() { state.strike.set(false); t } / leave_strike() blocked_by_code() { vec![] }) { r }

    rule maybe_italic() -> Vec<MdNode>
        = enter_italic() r:(t:italic() { state.italic.set(false); t } / leave_italic() blocked_by_code() { vec![] }) { r }

    rule maybe_references() -> Vec<MdNode>
        = enter_references() r:(t:references() { state.references.set(false); t } / leave_references() blocked_by_code() { vec![] }) { r }

    /// `['a'..='z' | 'A'..='Z' | '0'..='9']+`, from its table.
    rule ascii_alnums() = #{|_, pos| Context::run(&state.alnum_runs, pos)}

    rule italic() -> Vec<MdNode>
        = value:$(ascii_alnums() "_" "_"?) { vec![MdNode::plain(value)] }
        / "__" i:italic_content_items() "__" t:$(['a'..='z' | 'A'..='Z' | '0'..='9']+) {
            nodes::reduce_plain_texts(vec![vec![MdNode::plain("__")], i, vec![MdNode::plain("__")], vec![MdNode::plain(t)]])
        }
        / "_" i:italic_content_items() "_" t:$(['a'..='z' | 'A'..='Z']+) {
            nodes::reduce_plain_texts(vec![vec![MdNode::plain("_")], i, vec![MdNode::plain("_")], vec![MdNode::plain(t)]])
        }
        / "__" c:italic_content() "__" { vec![c] }
        / "_" c:italic_content() "_" { vec![c] }

    rule italic_content() -> MdNode = text:italic_content_items() { MdNode::Italic { value: text } }

    rule italic_content_items() -> Vec<MdNode> = text:italic_content_item()+ { nodes::reduce_plain_texts(text) }

    rule italic_content_item() -> Vec<MdNode>
        = step() i:italic_content_item_unbudgeted() { i }

    rule italic_content_item_unbudgeted() -> Vec<MdNode>
        = n:whitespace() { vec![n] }
        / n:inline_code() { vec![n] }
        / maybe_references()
        / n:user_mention() { vec![n] }
        / n:channel_mention() { vec![n] }
        / maybe_bold()
        / maybe_strikethrough()
        / n:emoji() { vec![n] }
        / n:emoticon() { vec![n] }
        / n:any_italic() { vec![n] }
        / n:line() { vec![n] }

    rule bold() -> Vec<MdNode>
        = "**" c:bold_content() "**" { vec![c] }
        / "*" c:bold_content() "*" { vec![c] }

    rule bold_content() -> MdNode = text:bold_content_item()+ { MdNode::Bold { value: nodes::reduce_plain_texts(text) } }

    rule bold_content_item() -> Vec<MdNode>
        = step() i:bold_content_item_unbudgeted() { i }

    rule bold_content_item_unbudgeted() -> Vec<MdNode>
        = n:whitespace() { vec![n] }
        / n:inline_code() { vec![n] }
        / maybe_references()
        / n:user_mention() { vec![n] }
        / n:channel_mention() { vec![n] }
        / maybe_italic()
        / maybe_strikethrough()
        / n:emoji() { vec![n] }
        / n:emoticon() { vec![n] }
        / n:any_bold() { vec![n] }
        / n:line() { vec![n] }

    rule strikethrough() -> Vec<MdNode>
        = "~~" c:strikethrough_content() "~~" { vec![c] }
        / "~" c:strikethrough_content() "~" { vec![c] }

    rule strikethrough_content() -> MdNode
        = text:strikethrough_content_item()+ { MdNode::Strike { value: nodes::reduce_plain_texts(text) } }

    rule strikethrough_content_item() -> Vec<MdNode>
        = step() i:strikethrough_content_item_unbudgeted() { i }

    rule strikethrough_content_item_unbudgeted() -> Vec<MdNode>
        = n:timestamp() { vec![n] }
        / n:whitespace() { vec![n] }
        / n:inline_code() { vec![n] }
        / maybe_references()
        / n:user_mention() { vec![n] }
        / n:channel_mention() { vec![n] }
        / maybe_italic()
        / maybe_bold()
        / n:emoji() { vec![n] }
        / n:emoticon() { vec![n] }
        / n:any_strike() { vec![n] }
        / n:line() { vec![n] }

    rule any_bold() -> MdNode = t:$([^ '\n' | '*' | ' ']) { MdNode::plain(t) }

    rule any_strike() -> MdNode = t:$([^ '\n' | '~' | ' ']) { MdNode::plain(t) }

    rule any_italic() -> MdNode = t:$([^ '\n' | '_' | ' ']) { MdNode::plain(t) }

    // Emphasis markers around nothing but spaces stay text: ** **, _ _, ~~ ~~.

    rule emphasis_with_whitespace() -> MdNode
        = asterisk_with_whitespace() / underscore_with_whitespace() / tilde_with_whitespace()

    rule asterisk_with_whitespace() -> MdNode = a:run_of('*') w:$(space()+) b:run_of('*') { MdNode::plain(format!("{a}{w}{b}")) }

    rule underscore_with_whitespace() -> MdNode = a:run_of('_') w:$(space()+) b:run_of('_') { MdNode::plain(format!("{a}{w}{b}")) }

    rule tilde_with_whitespace() -> MdNode = a:run_of('~') w:$(space()+) b:run_of('~') { MdNode::plain(format!("{a}{w}{b}")) }

    /// `$(c+)`, from the table of runs: the grammar tries these at every `*`, `_`
    /// and `~`, and a long row of them cost the square of its length.
    rule run_of(c: char) -> &'input str = &[x if x == c] r:$(same_char_run()) { r }

    rule same_char_run() = #{|_, pos| Context::run(&state.same_char_runs, pos)}

    // Mentions: @user, #channel; a letter right before the sign makes it text.

    rule user_mention() -> MdNode
        = t:$(any_text()) "@"+ user:alpha_numeric_char() { MdNode::plain(format!("{t}@{user}")) }
        / "@"+ user:$(utf8_names_validation() ([':' | '@'] utf8_names_validation())?) {
            MdNode::MentionUser { value: Box::new(MdNode::plain(user)) }
        }

    rule channel_mention() -> MdNode
        = t:$(any_text()) "#" channel:alpha_numeric_char() { MdNode::plain(format!("{t}#{channel}")) }
        / "#" channel:utf8_names_validation() { MdNode::MentionChannel { value: Box::new(MdNode::plain(channel)) } }

    // Emoji: a message of one to three and nothing else is big; :short_code:,
    // Unicode emoji and emoticons.

    rule big_emoji() -> Vec<MdNode>
        = (end_of_line() / space())* es:(e:(emoji() / emoticon()) (end_of_line() / space())* { e })*<1,3>
          { vec![MdNode::BigEmoji { value: es }] }

    rule emoji() -> MdNode = emoji_short_code() / ch:unicode_emoji() { nodes::emoji_unicode(ch) }

    rule emoji_short_code() -> MdNode
        = ":" short_code:$(['0'..='9' | 'a'..='z' | 'A'..='Z' | '-' | '_' | '+' | '.']+) ":" { nodes::emoji(short_code) }

    rule emoticons_on() = {? if opts.emoticons { Ok(()) } else { Err("emoticons") } }

    // The characters emoticons start with, checked first: the patterns are a hundred
    // literals, and trying them all at every position was half of a parse's time.
    rule emoticon() -> MdNode
        = emoticons_on()
          &['<' | ':' | '=' | '>' | '\'' | 'O' | '0' | ';' | '*' | 'X' | 'B' | '8' | 'D' | '-'
            | '#' | '%' | '(' | '\\']
          e:emoticon_pattern() { e }

    rule emoticon_pattern() -> MdNode
        = e:$("<3") { nodes::emoticon(e, "heart") }
        / e:$("</3") { nodes::emoticon(e, "broken_heart") }
        / e:$(":D" / ":-D" / "=D") { nodes::emoticon(e, "smiley") }
        / e:$(">:)" / ">;)" / ">:-)" / ">=)") { nodes::emoticon(e, "laughing") }
        / e:$("':)" / "':-)" / "'=)" / "':D" / "':-D" / "'=D") { nodes::emoticon(e, "sweat_smile") }
        / e:$(":')" / ":'-)") { nodes::emoticon(e, "joy") }
        / e:$("O:-)" / "0:-3" / "0:3" / "0:-)" / "0:)" / "0;^)" / "O:)" / "O;-)" / "O=)" / "0;-)"
              / "O:-3" / "O:3") { nodes::emoticon(e, "innocent") }
        / e:$(":)" / ":-)" / "=]" / "=)" / ":]") { nodes::emoticon(e, "slight_smile") }
        / e:$(";)" / ";-)" / "*-)" / "*)" / ";-]" / ";]" / ";D" / ";^)") { nodes::emoticon(e, "wink") }
        / e:$(":*" / ":-*" / "=*" / ":^*") { nodes::emoticon(e, "kissing_heart") }
        / e:$(":P" / ":-P" / "=P" / ":-\u{de}" / ":\u{de}" / ":-b" / ":b") { nodes::emoticon(e, "stuck_out_tongue") }
        / e:$(">:P" / "X-P") { nodes::emoticon(e, "stuck_out_tongue_winking_eye") }
        / e:$("B-)" / "B)" / "8)" / "8-)" / "B-D" / "8-D") { nodes::emoticon(e, "sunglasses") }
        / e:$(">:[" / ":-(" / ":(" / ":-[" / ":[" / "=(") { nodes::emoticon(e, "disappointed") }
        / e:$(">:\\" / ">:/" / ":-/" / ":-." / ":/" / ":\\" / "=/" / "=\\" / ":L" / "=L") { nodes::emoticon(e, "confused") }
        / e:$(">.<") { nodes::emoticon(e, "persevere") }
        / e:$(":'(" / ":'-(" / ";(" / ";-(") { nodes::emoticon(e, "cry") }
        / e:$(">:(" / ">:-(" / ":@") { nodes::emoticon(e, "angry") }
        / e:$(":$" / "=$") { nodes::emoticon(e, "flushed") }
        / e:$("D:") { nodes::emoticon(e, "fearful") }
        / e:$("':(" / "':-(" / "'=(") { nodes::emoticon(e, "sweat") }
        / e:$(":-X" / ":X" / ":-#" / ":#" / "=X" / "=#") { nodes::emoticon(e, "no_mouth") }
        / e:$("-_-" / "-__-" / "-___-") { nodes::emoticon(e, "expressionless") }
        / e:$(":-O" / ":O" / "O_O" / ">:O") { nodes::emoticon(e, "open_mouth") }
        / e:$("#-)" / "#)" / "%-)" / "%)" / "X)" / "X-)") { nodes::emoticon(e, "dizzy_face") }
        / e:$("(y)") { nodes::emoticon(e, "thumbsup") }
        / e:$("*\\0/*" / "\\0/" / "*\\O/*" / "\\O/") { nodes::emoticon(e, "person_gesturing_ok") }

    // Unicode emoji by block, as the original's surrogate pairs.

    rule unicode_emoji() -> &'input str
        = unicode_emoji_emoticon()
        / $(unicode_emoji_supplemental()
             (unicode_emoji_pictograph() ("\u{200D}" unicode_emoji_pictograph())*)?)
        / $((unicode_emoji_pictograph() unicode_emoji_fitzpatrick()? "\u{200D}")*
             unicode_emoji_pictograph() unicode_emoji_fitzpatrick()?)
        / $(['\u{1F680}'..='\u{1F6FA}'])
        / $(['\u{2300}'..='\u{23FF}'] variation_selector()?)
        / $(['\u{2600}'..='\u{26FF}'] variation_selector()?)
        / $(['\u{2700}'..='\u{27BF}'] variation_selector()?)
        / $(['\u{1F100}'..='\u{1F1FF}'] ['\u{1F100}'..='\u{1F1FF}'])

    rule unicode_emoji_emoticon() -> &'input str = $(['\u{1F600}'..='\u{1F64F}'])

    rule unicode_emoji_supplemental() = ['\u{1F900}'..='\u{1F9FF}']

    rule unicode_emoji_pictograph() = ['\u{1F300}'..='\u{1F5FF}'] variation_selector()?

    rule unicode_emoji_fitzpatrick() = ['\u{1F3FB}'..='\u{1F3FF}']

    rule variation_selector() = ['\u{FE00}'..='\u{FE0F}']

    rule inline_code() -> MdNode
        = "`" text:$((!"`" !"\n" [_])+) "`" { MdNode::InlineCode { value: Box::new(MdNode::plain(text)) } }

    rule colors_on() = {? if opts.colors { Ok(()) } else { Err("colors") } }

    rule color() -> MdNode
        = colors_on() "color:#" rgba:color_rgba_tuple() !any_text() { nodes::color(&rgba) }

    rule color_rgba_tuple() -> Vec<u8> = hex_byte()*<3,4> / hex_nibble()*<3,4>

    // Lexical rules.

    rule whitespace() -> MdNode = w:$(space()+) { MdNode::plain(w) }

    rule end_of_line() = "\r\n" / "\n" / "\r"

    rule space() = [' ' | '\t']

    rule escaped() -> MdNode = "\\" t:$(['*' | '_' | '~' | '`' | '#' | '.']) { MdNode::plain(t) }

    rule any() -> Vec<MdNode>
        = !end_of_line() t:$([_]) p:$(autolinked_phone()?) u:$(url()?) { vec![MdNode::plain(format!("{t}{p}{u}"))] }

    rule any_text() = ['\x20'..='\x27' | '\x2B'..='\x40' | '\x41'..='\x5A' | '\x61'..='\x7A'] / non_ascii()

    rule line() -> MdNode = t:$(space()* any_text()+ space()*) { MdNode::plain(t) }

    rule utf8_names_validation() -> &'input str = $((['-' | '_' | '.'] / alpha_numeric_char())+)

    rule non_ascii() = [c if c >= '\u{80}']

    rule digit() = ['0'..='9']

    rule digits() -> &'input str = $(digit()+)

    rule safe() = ['$' | '@' | '&' | '+' | '_' | '#' | '?' | '-']

    rule extra() = ['.' | ',' | '!' | '%' | '~' | '*' | '"' | '\'' | ':' | ';' | '(' | ')' | '=']

    rule hex_digit() -> char = c:['0'..='9' | 'A'..='F' | 'a'..='f'] { c }

    rule hex_nibble() -> u8 = a:hex_digit() { nodes::hex_value(a) * 17 }

    rule hex_byte() -> u8 = a:hex_digit() b:hex_digit() { nodes::hex_value(a) * 16 + nodes::hex_value(b) }

    rule alpha_digit() = ['a'..='z' | 'A'..='Z' | '0'..='9']

    rule alpha_numeric_char() -> &'input str = $(alpha_char() / decimal_number_char())

    rule alpha_char() = [c if in_class(c, ALPHA_CHAR)]

    rule decimal_number_char() = [c if in_class(c, DECIMAL_NUMBER_CHAR)]
}
}
