//! Cutting the rendered reply into messages of at most `limit` characters.
//!
//! Owns where message boundaries fall and the fence lines added at them.
//! Must never alter, drop or reorder the text it is given: each message is
//! an optional reopened fence, a verbatim slice of the text (its `body`),
//! and an optional closing fence; the bodies, in order, are the text.
//!
//! Rules:
//! - A message's length is what the platform will show: `measure` of its
//!   text (a platform that escapes or converts markup measures the result;
//!   [`split`] counts `char`s). Cuts fall on char boundaries and, when
//!   a hard cut is needed, not inside an emoji sequence (ZWJ, variation
//!   selector, skin tone, combining mark, flag pair) if avoidable.
//! - A cut goes after the last '\n' that fits, else after the last space,
//!   else as late as fits.
//! - A message that ends inside a code fence gets the fence's closing line;
//!   the next one starts with the opener again (same info string). These
//!   added lines count against the limit, so every message has balanced
//!   fences and fits, including the last one (a fence the text leaves open
//!   is closed at its end).
//! - Greedy and stable: a message is cut off only once more than a full
//!   message's worth of text follows its start (or the text is complete),
//!   so the cut depends only on text that can no longer change, and a
//!   message followed by another never changes again.

use std::iter::once;
use std::ops::Range;

use super::fence::{Fence, state_after};

/// One message's worth of the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Piece {
    /// What the message shows: reopened fence, body, closing fence.
    pub text: String,
    /// The slice of the text this message carries, verbatim.
    pub body: Range<usize>,
    /// The fence still open after the body, which the next message reopens.
    pub carry: Option<Fence>,
}

/// Split `text`, which begins at a line start inside `carry` (the fence
/// left open by the message before it), into messages.
///
/// All pieces but the last are final. When `complete` is false more text may
/// follow, and the last piece is a preview: its body may stop short of the
/// end of `text` to leave room for a closing fence. When `complete` is true
/// the bodies cover all of `text`. An empty `text` gives one empty piece.
#[cfg(test)]
pub fn split(text: &str, carry: Option<Fence>, limit: usize, complete: bool) -> Vec<Piece> {
    split_measured(text, carry, limit, complete, &|shown: &str| {
        shown.chars().count()
    })
}

/// [`split`] with each message's length given by `measure` (e.g. the
/// length of the text after the platform's markup conversion). `measure`
/// should grow, or nearly, as the text does.
pub fn split_measured(
    text: &str,
    mut carry: Option<Fence>,
    limit: usize,
    complete: bool,
    measure: &dyn Fn(&str) -> usize,
) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut start = 0;
    loop {
        let rest = &text[start..];
        if rest.is_empty() {
            pieces.push(Piece {
                text: String::new(),
                body: start..start,
                carry,
            });
            return pieces;
        }
        let frame = Frame::new(carry, limit, measure);
        let room = limit.saturating_sub(frame.reopen.chars().count()).max(1);
        let window_end = rest.char_indices().nth(room).map(|(i, _)| i);
        if window_end.is_none() {
            let (shown, after) = frame.compose(rest);
            if measure(&shown) <= limit {
                pieces.push(Piece {
                    text: shown,
                    body: start..text.len(),
                    carry: after,
                });
                return pieces;
            }
            if !complete {
                let end = frame.latest_fitting_end(rest, rest.len());
                let (shown, after) = frame.compose(&rest[..end]);
                pieces.push(Piece {
                    text: shown,
                    body: start..start + end,
                    carry: after,
                });
                return pieces;
            }
        }
        let cut = frame.cut(rest, window_end.unwrap_or(rest.len()));
        let (shown, after) = frame.compose(&rest[..cut]);
        pieces.push(Piece {
            text: shown,
            body: start..start + cut,
            carry: after.clone(),
        });
        start += cut;
        carry = after;
    }
}

/// The fence context a message starts in and the limit it must keep.
struct Frame<'m> {
    carry: Option<Fence>,
    reopen: String,
    limit: usize,
    measure: &'m dyn Fn(&str) -> usize,
}

/// How many boundaries above the last one a binary search found fitting are
/// still tried, for a `measure` that is not quite monotonic (markup that
/// only becomes shorter once its closing marker arrives).
const NEAR_MONOTONIC_SLACK: usize = 16;

impl<'m> Frame<'m> {
    fn new(carry: Option<Fence>, limit: usize, measure: &'m dyn Fn(&str) -> usize) -> Self {
        let reopen = carry
            .as_ref()
            .map(|fence| fence.reopen_line() + "\n")
            .unwrap_or_default();
        // A fence whose opening and closing lines would fill the message is
        // not repeated (only absurd input gets here).
        if reopen.chars().count() * 2 + 2 > limit {
            return Self {
                carry: None,
                reopen: String::new(),
                limit,
                measure,
            };
        }
        Self {
            carry,
            reopen,
            limit,
            measure,
        }
    }

    /// The message showing `body`, and the fence open after it.
    fn compose(&self, body: &str) -> (String, Option<Fence>) {
        let after = state_after(self.carry.clone(), body);
        let mut shown = String::with_capacity(self.reopen.len() + body.len() + 8);
        shown.push_str(&self.reopen);
        shown.push_str(body);
        if let Some(fence) = &after {
            if !shown.ends_with('\n') {
                shown.push('\n');
            }
            shown.push_str(&fence.close_line());
        }
        (shown, after)
    }

    fn fits(&self, body: &str) -> bool {
        (self.measure)(&self.compose(body).0) <= self.limit
    }

    /// Whether the line ending at `cut` (after its '\n') opens a fence: a
    /// cut there would leave an empty code block behind.
    fn opens_fence_at(&self, rest: &str, cut: usize) -> bool {
        let line_start = rest[..cut - 1].rfind('\n').map_or(0, |i| i + 1);
        let before = state_after(self.carry.clone(), &rest[..line_start.saturating_sub(1)]);
        before.is_none() && state_after(None, &rest[line_start..cut - 1]).is_some()
    }

    /// Where to end a message cut from `rest`, looking at `rest[..window_end]`.
    fn cut(&self, rest: &str, window_end: usize) -> usize {
        let window = &rest[..window_end];
        let after_each = |c: char| window.rmatch_indices(c).map(|(i, _)| i + 1);
        let mut after_line = after_each('\n').filter(|&cut| !self.opens_fence_at(rest, cut));
        if let Some(cut) = after_line.find(|&cut| self.fits(&rest[..cut])) {
            return cut;
        }
        if let Some(cut) = after_each(' ').find(|&cut| self.fits(&rest[..cut])) {
            return cut;
        }
        self.latest_fitting_end(rest, window_end)
    }

    /// The latest char boundary at or before `end` where a message can end
    /// and fit, avoiding emoji sequences if possible; never 0.
    fn latest_fitting_end(&self, rest: &str, end: usize) -> usize {
        let all: Vec<usize> = rest[..end]
            .char_indices()
            .map(|(i, _)| i)
            .chain(once(end))
            .filter(|&i| i > 0)
            .collect();
        // A binary search bounds the scan, so a long text costs a few
        // measures rather than one per char.
        let fitting = all.partition_point(|&i| self.fits(&rest[..i]));
        let top = (fitting + NEAR_MONOTONIC_SLACK).min(all.len());
        let boundaries = || all[..top].iter().copied().rev();
        boundaries()
            .filter(|&i| !joins(rest, i))
            .find(|&i| self.fits(&rest[..i]))
            .or_else(|| boundaries().find(|&i| self.fits(&rest[..i])))
            // Nothing fits only when a fence line alone overflows: cut after
            // one char rather than loop.
            .unwrap_or_else(|| rest.chars().next().map_or(rest.len(), char::len_utf8))
    }
}

/// Whether `text[..at]` and `text[at..]` belong to one visible character.
fn joins(text: &str, at: usize) -> bool {
    let (Some(before), Some(after)) = (text[..at].chars().next_back(), text[at..].chars().next())
    else {
        return false;
    };
    before == '\u{200D}'
        || (before == '\r' && after == '\n')
        || extends(after)
        || (is_regional_indicator(after)
            && text[..at]
                .chars()
                .rev()
                .take_while(|&c| is_regional_indicator(c))
                .count()
                % 2
                == 1)
}

/// Characters that attach to the one before them.
fn extends(c: char) -> bool {
    matches!(c,
        '\u{200D}'                      // zero-width joiner
        | '\u{0300}'..='\u{036F}'       // combining diacritics
        | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}'
        | '\u{20D0}'..='\u{20FF}'       // combining marks for symbols, keycap
        | '\u{FE00}'..='\u{FE0F}'       // variation selectors
        | '\u{FE20}'..='\u{FE2F}'
        | '\u{1F3FB}'..='\u{1F3FF}'     // skin tones
        | '\u{E0020}'..='\u{E007F}'     // tag sequences (subdivision flags)
        | '\u{E0100}'..='\u{E01EF}')
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str, limit: usize) -> Vec<String> {
        split(text, None, limit, true)
            .into_iter()
            .map(|piece| piece.text)
            .collect()
    }

    #[test]
    fn short_text_is_one_message() {
        assert_eq!(texts("hello", 2000), ["hello"]);
        assert_eq!(texts("", 2000), [""]);
    }

    #[test]
    fn prefers_a_line_then_a_space_then_a_hard_cut() {
        assert_eq!(
            texts("aaaa bbbb\ncccc dddd", 12),
            ["aaaa bbbb\n", "cccc dddd"]
        );
        assert_eq!(texts("aaaa bbbb cccc", 12), ["aaaa bbbb ", "cccc"]);
        assert_eq!(texts("abcdefghijklmno", 6), ["abcdef", "ghijkl", "mno"]);
    }

    #[test]
    fn counts_chars_and_cuts_on_char_boundaries() {
        let text = "é漢字".repeat(10);
        for piece in texts(&text, 7) {
            assert!(piece.chars().count() <= 7);
        }
        assert_eq!(texts(&text, 7).concat(), text);
    }

    #[test]
    fn keeps_emoji_sequences_whole_when_it_can() {
        let family = "👨\u{200D}👩\u{200D}👧";
        let thumbs = "👍🏽";
        let text = format!("{thumbs}{family}{thumbs}{family}");
        let pieces = texts(&text, 6);
        assert_eq!(pieces.concat(), text);
        for piece in &pieces {
            assert!(
                piece == thumbs || piece == family || piece == &format!("{thumbs}{family}"),
                "{piece:?}"
            );
        }
    }

    #[test]
    fn a_cut_inside_a_fence_closes_and_reopens_it() {
        let text = "intro\n```rust\nlet a = 1;\nlet b = 2;\nlet c = 3;\n```\nafter\n";
        let pieces = texts(text, 30);
        assert_eq!(pieces[0], "intro\n```rust\nlet a = 1;\n```");
        assert_eq!(pieces[1], "```rust\nlet b = 2;\n```");
        assert_eq!(pieces[2], "```rust\nlet c = 3;\n```\nafter\n");
        for piece in &pieces {
            assert!(piece.chars().count() <= 30, "{piece:?}");
            assert_eq!(state_after(None, piece), None, "unbalanced: {piece:?}");
        }
    }

    #[test]
    fn a_hard_cut_inside_a_fence_closes_on_a_new_line() {
        let text = format!("```\n{}", "x".repeat(40));
        let pieces = texts(&text, 20);
        assert_eq!(pieces[0], format!("```\n{}\n```", "x".repeat(12)));
        assert!(pieces[1].starts_with("```\nxxxx"));
    }

    #[test]
    fn never_cuts_right_after_an_opener() {
        let text = format!("```\n{}", "x".repeat(40));
        assert!(!texts(&text, 20)[0].starts_with("```\n```"));
    }

    #[test]
    fn a_fence_left_open_is_closed_in_the_last_message() {
        assert_eq!(texts("```sh\nls", 100), ["```sh\nls\n```"]);
    }

    #[test]
    fn a_measure_that_escapes_is_what_must_fit() {
        // Each '<' is sent as "&lt;" (four chars), as Slack does.
        let escaped = |s: &str| {
            s.chars()
                .map(|c| if c == '<' { 4 } else { 1 })
                .sum::<usize>()
        };
        let text = format!("```\n{}\n```\nend", "a<b <c\n".repeat(20));
        let pieces = split_measured(&text, None, 40, true, &escaped);
        assert!(
            pieces.len() > texts(&text, 40).len(),
            "more messages than by chars"
        );
        let mut bodies = String::new();
        for piece in &pieces {
            assert!(escaped(&piece.text) <= 40, "{:?}", piece.text);
            assert_eq!(state_after(None, &piece.text), None, "{:?}", piece.text);
            bodies.push_str(&text[piece.body.clone()]);
        }
        assert_eq!(bodies, text);
        // A hard cut (no line or space to cut at) also fits.
        let solid = "<".repeat(50);
        for piece in split_measured(&solid, None, 10, true, &escaped) {
            assert!(escaped(&piece.text) <= 10 && !piece.text.is_empty());
        }
    }

    #[test]
    fn a_preview_leaves_room_for_the_closing_fence() {
        let text = format!("```\n{}", "y".repeat(15));
        let pieces = split(&text, None, 20, false);
        assert_eq!(
            pieces.len(),
            1,
            "not cut yet: less than a message follows its start"
        );
        assert_eq!(pieces[0].text, format!("```\n{}\n```", "y".repeat(12)));
        assert!(pieces[0].body.end < text.len());
    }
}
