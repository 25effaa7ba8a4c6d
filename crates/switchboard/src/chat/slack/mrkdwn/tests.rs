use super::*;

fn md(text: &str) -> String {
    to_mrkdwn(text)
}

#[test]
fn emphasis_and_strike() {
    assert_eq!(md("**bold** and __bold__"), "*bold* and *bold*");
    assert_eq!(md("*it* and _it_"), "_it_ and _it_");
    assert_eq!(md("~~gone~~"), "~gone~");
    assert_eq!(md("***both***"), "*_both_*");
    assert_eq!(md("**a *b* c**"), "*a _b_ c*");
    assert_eq!(md("*a **b** c*"), "_a *b* c_");
    assert_eq!(md("(**x**)."), "(*x*).");
}

#[test]
fn markers_inside_words_or_unpaired_stay_as_they_are() {
    assert_eq!(
        md("snake_case_name and __init__ file"),
        "snake_case_name and *init* file"
    );
    assert_eq!(md("a*b*c, 2 * 3 * 4"), "a*b*c, 2 * 3 * 4");
    assert_eq!(md("**not closed"), "**not closed");
    assert_eq!(md("** spaced **"), "** spaced **");
    assert_eq!(md("~one~ ~~~"), "~one~ ~~~");
    assert_eq!(md("**"), "**");
    assert_eq!(md("_"), "_");
}

#[test]
fn links_become_slack_links() {
    assert_eq!(
        md("see [the docs](https://x.dev/a?b=1&c=2) now"),
        "see <https://x.dev/a?b=1&amp;c=2|the docs> now"
    );
    assert_eq!(
        md("![logo](https://x.dev/l.png)"),
        "<https://x.dev/l.png|logo>"
    );
    assert_eq!(
        md("[a|b](https://x.dev/p|q \"title\")"),
        "<https://x.dev/p%7Cq|a|b>"
    );
    assert_eq!(md("<https://x.dev>"), "<https://x.dev>");
    assert_eq!(md("[main](src/main.rs)"), "main (src/main.rs)");
    assert_eq!(md("[broken](https://x"), "[broken](https://x");
    assert_eq!(md("[]()"), "[]()");
}

#[test]
fn everything_else_is_escaped_even_in_code() {
    assert_eq!(md("a < b && c > d"), "a &lt; b &amp;&amp; c &gt; d");
    assert_eq!(md("<@U1> <!channel>"), "&lt;@U1&gt; &lt;!channel&gt;");
    assert_eq!(md("`a<b> && *c*`"), "`a&lt;b&gt; &amp;&amp; *c*`");
    assert_eq!(md("``a ` b``"), "``a ` b``");
    assert_eq!(md("``x``"), "`x`");
    assert_eq!(md("`unclosed *x*"), "`unclosed _x_");
    assert_eq!(md("**`a*b`**"), "*`a*b`*");
}

#[test]
fn fenced_code_is_kept_whole_without_its_language() {
    let text = "intro\n```rust\nfn f() -> Vec<u8> { **x** }\n```\nafter **b**";
    assert_eq!(
        md(text),
        "intro\n```\nfn f() -&gt; Vec&lt;u8&gt; { **x** }\n```\nafter *b*"
    );
    assert_eq!(
        md("  ```\n# not a heading\n  ```"),
        "```\n# not a heading\n```"
    );
    assert_eq!(
        md("````md\n```\ninner\n```\n````"),
        "```\n`\u{200B}`\u{200B}`\ninner\n`\u{200B}`\u{200B}`\n```",
        "a backtick run inside code cannot end Slack's block"
    );
    assert_eq!(md("```\nlet s = \"``\";\n```"), "```\nlet s = \"``\";\n```");
}

#[test]
fn a_fence_left_open_is_closed() {
    assert_eq!(md("```sh\nls <dir>"), "```\nls &lt;dir&gt;\n```");
    assert_eq!(md("```\n"), "```\n```");
    assert_eq!(md("x ```not a fence```"), "x ```not a fence```");
}

#[test]
fn headings_bullets_quotes_and_rules() {
    assert_eq!(md("# Title"), "*Title*");
    assert_eq!(md("### Sub **bold** _it_ ##"), "*Sub bold _it_*");
    assert_eq!(md("#hashtag"), "#hashtag");
    assert_eq!(md("#"), "");
    assert_eq!(md("- one\n* two\n  + three"), "• one\n• two\n  • three");
    assert_eq!(md("- [ ] todo\n- [x] done"), "• ☐ todo\n• ☑ done");
    assert_eq!(md("1. first\n2. second"), "1. first\n2. second");
    assert_eq!(md("> quoted **x**"), "> quoted *x*");
    assert_eq!(md("---\n* * *"), "──────────\n──────────");
    assert_eq!(md("-not a bullet"), "-not a bullet");
}

#[test]
fn multi_byte_text_and_line_endings_survive() {
    assert_eq!(md("**漢字** _é_ ✓ 👍🏽"), "*漢字* _é_ ✓ 👍🏽");
    assert_eq!(md("a\r\n**b**\r\n"), "a\r\n*b*\r\n");
    assert_eq!(md(""), "");
    assert_eq!(md("\n\n"), "\n\n");
}

#[test]
fn a_lone_mid_line_fence_is_text_to_slack_too() {
    // Markdown: "```python" after text is no fence; the "```" line opens
    // the block. Slack reads ``` anywhere, so the lone run must be broken.
    assert_eq!(
        md("a ```python\nprint(1)\n```\nafter\n```"),
        "a `\u{200B}`\u{200B}`python\nprint(1)\n```\nafter\n```"
    );
    assert_eq!(md("> ```"), "> `\u{200B}`\u{200B}`");
}

#[test]
fn every_opened_code_block_is_closed() {
    let inputs = [
        "```",
        "```\n```\n```",
        "text\n````\n```\n",
        "```py\n`x`\n``\n",
        "> ```\ncode",
        "- ```\n  code\n  ```",
    ];
    for input in inputs {
        let out = md(input);
        let fences = out
            .lines()
            .filter(|l| l.trim_start().starts_with("```"))
            .count();
        assert_eq!(fences % 2, 0, "{input:?} -> {out:?}");
    }
}

#[test]
fn reading_back_gives_markdown_that_converts_to_the_same_message() {
    let samples = [
        "**bold** *it* ~~gone~~ [docs](https://x.dev/?a=1&b=2) <https://y.dev>",
        "# Title\n- a & b\n- [x] done\n> quote\n---",
        "```rust\nlet v: Vec<u8> = a && b;\n```\nafter",
        "````md\n```\nnested\n```\n````",
        "plain 2 * 3 < 4 and snake_case",
    ];
    for sample in samples {
        let once = md(sample);
        assert_eq!(md(&to_markdown(&once)), once, "{sample:?}");
    }
    assert_eq!(to_markdown("*b* &lt;x&gt; &amp;"), "**b** <x> &");
    assert_eq!(to_markdown("<https://x.dev|docs>"), "[docs](https://x.dev)");
}

#[test]
fn arbitrary_input_converts_without_panics_and_keeps_code_blocks_balanced() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    let alphabet: Vec<char> = "*_~`[]()<>&#->|: \n\tax漢👍\u{200D}".chars().collect();
    let mut rng = StdRng::seed_from_u64(6);
    for _ in 0..3_000 {
        let len = rng.random_range(0..60);
        let input: String = (0..len)
            .map(|_| alphabet[rng.random_range(0..alphabet.len())])
            .collect();
        let out = md(&input);
        let mut open: Option<usize> = None;
        for line in out.split('\n') {
            match open {
                Some(ticks) if closes(line, ticks) => open = None,
                Some(_) => {}
                None => open = opens(line),
            }
        }
        assert_eq!(open, None, "{input:?} -> {out:?}");
        for line in out.split('\n') {
            // Raw angle brackets only in generated quotes (and links, which
            // need "://", not in this alphabet).
            let body = line.trim_start_matches("> ");
            assert!(!body.contains(['<', '>']), "{input:?} -> {out:?}");
        }
        let _ = to_markdown(&out);
    }
}
