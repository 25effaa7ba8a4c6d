//! Property tests of splitting over thousands of random documents, with a
//! small deterministic PRNG (no dependencies, same cases every run).

use super::super::fence::{Fence, state_after};
use super::super::split::{Piece, split};

/// xorshift64*: plenty for picking test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "word",
    "é",
    "漢字",
    "👍🏽",
    "👨\u{200D}👩\u{200D}👧",
    "🇫🇷",
    "e\u{301}",
    " ",
    " ",
    "\n",
    "\n\n",
    "\r\n",
    "```rust\n",
    "```\n",
    "````\n",
    "``` ",
    "`",
    "``x``",
    "  ```py\n",
    "~~~\n",
    "*notice*",
    "\t",
];

fn random_document(rng: &mut Rng) -> String {
    let mut text = String::new();
    for _ in 0..rng.below(400) {
        if rng.below(20) == 0 {
            // A long run without spaces or newlines forces hard cuts.
            text.push_str(&"z".repeat(rng.below(300)));
        } else {
            text.push_str(TOKENS[rng.below(TOKENS.len())]);
        }
    }
    text
}

fn check_pieces(document: &str, pieces: &[Piece], limit: usize, complete: bool) {
    let mut next = 0;
    for (i, piece) in pieces.iter().enumerate() {
        assert!(
            piece.text.chars().count() <= limit,
            "{} > {limit} chars: {:?}",
            piece.text.chars().count(),
            piece.text
        );
        assert_eq!(
            state_after(None, &piece.text),
            None,
            "unbalanced {:?} in {document:?}",
            piece.text
        );
        assert_eq!(piece.body.start, next, "bodies are contiguous");
        assert!(
            i + 1 == pieces.len() || !piece.body.is_empty(),
            "every cut makes progress"
        );
        assert!(
            piece.text.contains(&document[piece.body.clone()]),
            "the body is shown verbatim"
        );
        next = piece.body.end;
    }
    if complete {
        assert_eq!(next, document.len(), "the bodies cover the document");
    }
}

/// Split `document` the way the write loop does while it grows: at each
/// random point split what follows the final messages, make all but the
/// last piece final, and at the end split the rest as complete.
fn split_while_growing(document: &str, limit: usize, rng: &mut Rng) -> Vec<String> {
    let mut finals: Vec<String> = Vec::new();
    let (mut sealed_upto, mut carry): (usize, Option<Fence>) = (0, None);
    let mut end = 0;
    while end < document.len() {
        end = (end + 1 + rng.below(2 * limit)).min(document.len());
        while !document.is_char_boundary(end) {
            end += 1;
        }
        let complete = end == document.len() && rng.below(2) == 0;
        let mut pieces = split(&document[sealed_upto..end], carry.clone(), limit, complete);
        check_pieces(&document[sealed_upto..end], &pieces, limit, complete);
        pieces.pop();
        for piece in pieces {
            sealed_upto += piece.body.len();
            carry = piece.carry;
            finals.push(piece.text);
        }
    }
    let rest = split(&document[sealed_upto..], carry, limit, true);
    finals.extend(rest.into_iter().map(|piece| piece.text));
    finals
}

#[test]
fn splitting_keeps_its_invariants_on_random_documents() {
    let mut rng = Rng(0x5EED_CAFE_F00D_0001);
    for case in 0..3000 {
        let document = random_document(&mut rng);
        let limit = 40 + rng.below(400);
        let pieces = split(&document, None, limit, true);
        check_pieces(&document, &pieces, limit, true);
        let texts: Vec<String> = pieces.into_iter().map(|piece| piece.text).collect();
        assert_eq!(
            split_while_growing(&document, limit, &mut rng),
            texts,
            "case {case}: growing changed the cuts"
        );
    }
}

#[test]
fn a_preview_fits_and_is_balanced() {
    let mut rng = Rng(0xB0B0_0000_1234_5678);
    for _ in 0..2000 {
        let document = random_document(&mut rng);
        let limit = 40 + rng.below(200);
        check_pieces(
            &document,
            &split(&document, None, limit, false),
            limit,
            false,
        );
    }
}
