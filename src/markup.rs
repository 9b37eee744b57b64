//! Text made literal for the engines a table is pasted into: whatever a
//! cell, a header, a title or a note holds (a test name, a file name, a
//! column a tool printed), the engine shows those characters and nothing
//! else — no link, template, signature, formatting or extra cell. Checked
//! against the real engines by the test suite (MediaWiki 1.39's parser,
//! Trac 1.6's formatter, cmark-gfm).

/// GitHub Markdown (a table cell or a line): a backslash before each
/// character that can start inline markup or end a cell — `\\`, backtick,
/// `*`, `_`, `~`, `[`, `]`, `|`, `$` (math), and `<`, `>`, `&` (an escaped
/// one is text, never HTML or an entity) — and before what GitHub would
/// turn into a link (`://`, `www.`). An e-mail address, which GitHub links
/// whatever is escaped in it, is a code span. A line break, which would
/// end the row, is a space.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while !rest.is_empty() {
        // Words apart from the blanks between them.
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, after) = rest.split_at(end);
        if is_email(word) {
            out.push('`');
            out.push_str(&word.replace('|', "\\|"));
            out.push('`');
        } else {
            escape_markdown(word, &mut out);
        }
        let blank = after.len() - after.trim_start().len();
        for c in after[..blank].chars() {
            match c {
                '\n' => out.push(' '),
                '\r' => {}
                c => out.push(c),
            }
        }
        rest = &after[blank..];
    }
    out
}

/// A word GitHub links as an e-mail address: `local@domain.tld`.
fn is_email(word: &str) -> bool {
    word.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !word.contains('`') && domain.contains('.')
    })
}

fn escape_markdown(text: &str, out: &mut String) {
    for (i, c) in text.char_indices() {
        let rest = &text[i + c.len_utf8()..];
        // GitHub links bare URLs (`x://`, `www.`).
        let link = (c == ':' && rest.starts_with("//"))
            || (c == '.' && text[..i].to_ascii_lowercase().ends_with("www"));
        match c {
            '\\' | '`' | '*' | '_' | '~' | '[' | ']' | '<' | '>' | '|' | '&' | '$' => {
                out.push('\\');
                out.push(c);
            }
            _ if link => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
}

/// MediaWiki (a cell, a header, the caption or a line): every character
/// that takes part in markup as an HTML entity — the parser splits rows
/// and cells, finds links, templates, signatures and formatting before
/// it decodes entities, so an entity is always the character itself. A
/// line break is `<br />`.
pub fn mediawiki(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '|' | '!' | '{' | '}' | '[' | ']' | '\'' | '~' | '_' | '<' | '>' | '&' | '=' | '*'
            | '#' | ':' | ';' | '"' => {
                out.push_str(&format!("&#{};", c as u32));
            }
            '\n' => out.push_str("<br />"),
            '\r' => {}
            _ => out.push(c),
        }
    }
    out
}

/// Trac (a cell, a header, the title or a line): text that no rule of
/// Trac's wiki can read as markup stays as it is; other text is inline
/// code (`{{{…}}}`, shown literally: no link, no CamelCase page, no
/// formatting, no cell break), each `}` apart as `` `}` `` so that none
/// ends the code early. A line break is `[[BR]]`.
pub fn trac(text: &str) -> String {
    // Trac breaks lines at U+2028 and U+2029 too.
    text.split(['\n', '\u{2028}', '\u{2029}'])
        .map(|line| {
            let line = line.trim_end_matches('\r');
            if plain_for_trac(line) {
                line.to_string()
            } else {
                literal_for_trac(line)
            }
        })
        .collect::<Vec<_>>()
        .join("[[BR]]")
}

/// Words, numbers and a few separators that no rule of Trac reads:
/// nothing doubled into formatting (`//`, `,,`), no CamelCase word (a
/// page), no changeset (`r1`), no `word:target` link (a colon only before
/// a blank or at the end), no e-mail (`@`), no `#`, bracket, brace,
/// quote, `^`, `~`, `*`, `_`, backtick or `!`.
fn plain_for_trac(line: &str) -> bool {
    let allowed = |c: char| c.is_alphanumeric() || " .,%-()+=&\"/:".contains(c);
    let camel = |w: &str| {
        let mut lower = false;
        w.chars().any(|c| {
            let hit = lower && c.is_uppercase();
            lower |= c.is_lowercase();
            hit
        })
    };
    let changeset =
        |w: &str| w.len() > 1 && w.starts_with('r') && w[1..].bytes().all(|b| b.is_ascii_digit());
    let colon_ok = line
        .match_indices(':')
        .all(|(i, _)| line[i + 1..].chars().next().is_none_or(|c| c == ' '));
    line.chars().all(allowed)
        && !line.contains("//")
        && !line.contains(",,")
        && colon_ok
        && !line
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| camel(w) || changeset(w))
}

fn literal_for_trac(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 12);
    for (i, part) in line.split('}').enumerate() {
        if i > 0 {
            out.push_str("`}`");
        }
        if !part.is_empty() {
            out.push_str("{{{");
            out.push_str(part);
            out.push_str("}}}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_engine_gets_literal_text() {
        assert_eq!(markdown("a|b _u_ `c`"), "a\\|b \\_u\\_ \\`c\\`");
        assert_eq!(markdown("two\nlines"), "two lines");
        assert_eq!(markdown("ask a@b.c or $x$"), "ask `a@b.c` or \\$x\\$");
        assert_eq!(trac("a\u{2028}b"), "a[[BR]]b");
        assert_eq!(
            mediawiki("a||b {{x}}"),
            "a&#124;&#124;b &#123;&#123;x&#125;&#125;"
        );
        assert_eq!(mediawiki("a\nb"), "a<br />b");
        assert_eq!(trac("all files"), "all files");
        assert_eq!(trac("r12"), "{{{r12}}}");
        assert_eq!(trac("HdrHistogram"), "{{{HdrHistogram}}}");
        assert_eq!(trac("min (ns)"), "min (ns)");
        assert_eq!(trac("wiki:Page"), "{{{wiki:Page}}}");
        assert_eq!(trac("count: 3, p99 (ms)"), "count: 3, p99 (ms)");
        assert_eq!(trac("a}}}b"), "{{{a}}}`}``}``}`{{{b}}}");
        assert_eq!(trac("x\ny"), "x[[BR]]y");
    }
}
