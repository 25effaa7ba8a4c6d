//! [`LineReader`]: newline-delimited reading from an agent's pipe with a
//! hard bound on how much one line may buffer.
//!
//! Owns: the buffer of one pipe (stdout's JSON-RPC lines, or stderr's log
//! lines) and the rule at its limit. It never holds more than
//! `limit + chunk` bytes, whatever the agent writes: a line longer than
//! `limit` is an error ([`Overlong::Fail`], stdout: the agent is broken)
//! or is cut ([`Overlong::Cut`], stderr: its first `limit` bytes are
//! returned, the rest is dropped unread into any buffer).
//!
//! Must never: grow a buffer past `limit + chunk`, or lose bytes when a
//! `next_line()` future is dropped (it is polled inside `select!`): all
//! state lives in the reader, and a read either completes into the buffer
//! or takes nothing.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Over this capacity, an emptied buffer is given back to the allocator
/// (one large legitimate message must not pin its size for the agent's
/// whole life).
const KEEP_CAPACITY: usize = 1024 * 1024;

/// What a line longer than the limit means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overlong {
    /// An error: the stream is unusable (the agent's stdout).
    Fail,
    /// Return the first `limit` bytes as a cut line and drop the rest of
    /// that line (the agent's stderr).
    Cut,
}

/// A line longer than the limit on a [`Overlong::Fail`] reader, or the
/// pipe failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadLineError {
    /// The line (without its newline) is longer than `limit` bytes.
    #[error("a line longer than {limit} bytes")]
    MessageTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Reading the pipe failed.
    #[error("cannot read the agent's output: {0}")]
    Io(#[from] std::io::Error),
}

/// One line read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    /// Its bytes, without the newline.
    pub bytes: Vec<u8>,
    /// Whether it was cut at the limit ([`Overlong::Cut`] only).
    pub cut: bool,
}

/// Reads `\n`-terminated lines of at most `limit` bytes from `inner`.
pub(crate) struct LineReader<R> {
    inner: R,
    limit: usize,
    overlong: Overlong,
    /// Bytes read and not yet returned start at `start`.
    buf: Vec<u8>,
    start: usize,
    /// `buf[start..scanned]` holds no newline (not searched again).
    scanned: usize,
    /// One read's worth; reads land here first, then in `buf`.
    chunk: Box<[u8]>,
    /// Dropping the rest of a cut line until its newline.
    skipping: bool,
    eof: bool,
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// A reader of lines up to `limit` bytes, reading `chunk` bytes at a
    /// time (both at least 1).
    pub(crate) fn new(inner: R, limit: usize, chunk: usize, overlong: Overlong) -> Self {
        Self {
            inner,
            limit: limit.max(1),
            overlong,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            chunk: vec![0; chunk.max(1)].into_boxed_slice(),
            skipping: false,
            eof: false,
        }
    }

    /// The next line; `Ok(None)` at the end of the stream. A last line
    /// without a newline is returned as a line. Cancel-safe.
    pub(crate) async fn next_line(&mut self) -> Result<Option<Line>, ReadLineError> {
        loop {
            if let Some(line) = self.take_line()? {
                return Ok(Some(line));
            }
            if self.eof {
                return Ok(self.take_rest());
            }
            self.compact();
            let n = self.inner.read(&mut self.chunk).await?;
            if n == 0 {
                self.eof = true;
                continue;
            }
            if self.skipping {
                match self.chunk[..n].iter().position(|b| *b == b'\n') {
                    Some(at) => {
                        self.skipping = false;
                        self.append(at + 1, n);
                    }
                    None => continue,
                }
            } else {
                self.append(0, n);
            }
        }
    }

    /// A complete line in the buffer, or an over-long one.
    fn take_line(&mut self) -> Result<Option<Line>, ReadLineError> {
        let pending = &self.buf[self.scanned..];
        match pending.iter().position(|b| *b == b'\n') {
            Some(at) => {
                let end = self.scanned + at;
                let length = end - self.start;
                if length > self.limit {
                    return self.overlong_line(Some(end + 1));
                }
                let bytes = self.buf[self.start..end].to_vec();
                self.start = end + 1;
                self.scanned = self.start;
                self.release();
                Ok(Some(Line { bytes, cut: false }))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() - self.start > self.limit {
                    return self.overlong_line(None);
                }
                Ok(None)
            }
        }
    }

    /// The line at `start` is longer than the limit; `end` is past its
    /// newline when that is already buffered.
    fn overlong_line(&mut self, end: Option<usize>) -> Result<Option<Line>, ReadLineError> {
        if self.overlong == Overlong::Fail {
            return Err(ReadLineError::MessageTooLarge { limit: self.limit });
        }
        let bytes = self.buf[self.start..self.start + self.limit].to_vec();
        match end {
            Some(end) => self.start = end,
            None => {
                self.start = self.buf.len();
                self.skipping = true;
            }
        }
        self.scanned = self.start;
        self.release();
        Ok(Some(Line { bytes, cut: true }))
    }

    /// At the end of the stream: what is left, as a last line.
    fn take_rest(&mut self) -> Option<Line> {
        if self.start >= self.buf.len() || self.skipping {
            return None;
        }
        let bytes = self.buf[self.start..].to_vec();
        self.start = self.buf.len();
        self.scanned = self.start;
        Some(Line { bytes, cut: false })
    }

    /// Drop returned bytes from the front before reading more.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
    }

    /// Append `chunk[from..to]`; the buffer's capacity never passes
    /// `limit + chunk`.
    fn append(&mut self, from: usize, to: usize) {
        let want = self.buf.len() + (to - from);
        if want > self.buf.capacity() {
            let cap = (self.buf.capacity() * 2)
                .max(want)
                .min(self.limit + self.chunk.len());
            self.buf.reserve_exact(cap.max(want) - self.buf.len());
        }
        self.buf.extend_from_slice(&self.chunk[from..to]);
    }

    /// Give a large, emptied buffer back.
    fn release(&mut self) {
        if self.start == self.buf.len() && self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
            self.start = 0;
            self.scanned = 0;
        }
    }

    /// The buffer's capacity (for tests of the bound).
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(
        data: Vec<u8>,
        limit: usize,
        overlong: Overlong,
    ) -> LineReader<std::io::Cursor<Vec<u8>>> {
        LineReader::new(std::io::Cursor::new(data), limit, 7, overlong)
    }

    async fn all(r: &mut LineReader<impl AsyncRead + Unpin>) -> Vec<Line> {
        let mut lines = Vec::new();
        while let Some(line) = r.next_line().await.expect("readable") {
            lines.push(line);
        }
        lines
    }

    fn line(text: &str) -> Line {
        Line {
            bytes: text.as_bytes().to_vec(),
            cut: false,
        }
    }

    #[tokio::test]
    async fn a_line_of_exactly_the_limit_passes() {
        let mut r = reader(b"0123456789\nabc\n".to_vec(), 10, Overlong::Fail);
        assert_eq!(all(&mut r).await, [line("0123456789"), line("abc")]);
    }

    #[tokio::test]
    async fn one_byte_over_the_limit_fails_with_or_without_its_newline() {
        for data in [&b"0123456789X\n"[..], b"0123456789X", b"ok\n0123456789XYZ"] {
            let mut r = reader(data.to_vec(), 10, Overlong::Fail);
            let mut result = r.next_line().await;
            if matches!(&result, Ok(Some(l)) if l.bytes == b"ok") {
                result = r.next_line().await;
            }
            assert!(
                matches!(result, Err(ReadLineError::MessageTooLarge { limit: 10 })),
                "{:?}: {result:?}",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[tokio::test]
    async fn a_last_line_without_a_newline_is_returned() {
        let mut r = reader(b"first\nlast".to_vec(), 10, Overlong::Fail);
        assert_eq!(all(&mut r).await, [line("first"), line("last")]);
        let mut r = reader(Vec::new(), 10, Overlong::Fail);
        assert_eq!(all(&mut r).await, []);
        let mut r = reader(b"\n\n".to_vec(), 10, Overlong::Fail);
        assert_eq!(all(&mut r).await, [line(""), line("")]);
    }

    #[tokio::test]
    async fn many_small_lines_across_chunk_boundaries() {
        let expected: Vec<String> = (0..5000).map(|i| format!("line {i} é")).collect();
        let data = expected.join("\n") + "\n";
        let mut r = reader(data.into_bytes(), 64, Overlong::Fail);
        let got: Vec<String> = all(&mut r)
            .await
            .into_iter()
            .map(|l| String::from_utf8(l.bytes).unwrap())
            .collect();
        assert_eq!(got, expected);
        assert!(r.capacity() <= 64 + 7, "capacity {}", r.capacity());
    }

    #[tokio::test]
    async fn a_flood_without_newline_never_buffers_more_than_limit_plus_chunk() {
        // An endless source: it never ends and never sends a newline.
        let flood = tokio::io::repeat(b'x');
        let mut r = LineReader::new(flood, 1000, 64, Overlong::Fail);
        let result = r.next_line().await;
        assert!(matches!(
            result,
            Err(ReadLineError::MessageTooLarge { limit: 1000 })
        ));
        assert!(r.capacity() <= 1000 + 64, "capacity {}", r.capacity());
    }

    #[tokio::test]
    async fn cut_mode_returns_the_head_and_drops_the_rest_of_the_line() {
        let data = b"short\n0123456789ABCDEFGHIJKLMNOP\nnext\n0123456789XY".to_vec();
        let mut r = reader(data, 10, Overlong::Cut);
        let cut = |text: &str| Line {
            bytes: text.as_bytes().to_vec(),
            cut: true,
        };
        assert_eq!(
            all(&mut r).await,
            [
                line("short"),
                cut("0123456789"),
                line("next"),
                cut("0123456789")
            ]
        );
        // A cut line whose newline was already buffered.
        let mut r = LineReader::new(
            std::io::Cursor::new(b"0123456789AB\nz\n".to_vec()),
            10,
            64,
            Overlong::Cut,
        );
        assert_eq!(all(&mut r).await, [cut("0123456789"), line("z")]);
    }

    #[tokio::test]
    async fn a_dropped_read_loses_nothing() {
        let (mut tx, rx) = tokio::io::duplex(64);
        let mut r = LineReader::new(rx, 100, 8, Overlong::Fail);
        // Nothing to read yet: the future is dropped while pending.
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(10), r.next_line())
                .await
                .is_err()
        );
        use tokio::io::AsyncWriteExt;
        tx.write_all(b"hel").await.unwrap();
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(10), r.next_line())
                .await
                .is_err()
        );
        tx.write_all(b"lo\nworld\n").await.unwrap();
        drop(tx);
        assert_eq!(all(&mut r).await, [line("hello"), line("world")]);
    }

    #[tokio::test]
    async fn a_large_buffer_is_given_back_after_its_line() {
        let big = vec![b'a'; 3 * KEEP_CAPACITY];
        let mut data = big.clone();
        data.extend_from_slice(b"\nsmall\n");
        let mut r = LineReader::new(
            std::io::Cursor::new(data),
            4 * KEEP_CAPACITY,
            65536,
            Overlong::Fail,
        );
        assert_eq!(r.next_line().await.unwrap().unwrap().bytes.len(), big.len());
        assert_eq!(r.next_line().await.unwrap(), Some(line("small")));
        assert!(r.capacity() <= KEEP_CAPACITY, "capacity {}", r.capacity());
    }
}
