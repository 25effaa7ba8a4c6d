//! The demo agent's stdin as an async byte stream.
//!
//! When stdin is a pipe (as when switchboard starts the agent), it is read
//! like real agents read it (Node's libuv, for one): non-blocking, woken by
//! the runtime's epoll, so a line from the client is seen as soon as it
//! arrives. tokio's own `stdin()` reads on a blocking thread that then
//! wakes the runtime: one more thread hand-off per line, which measured up
//! to a few milliseconds on these 2-core VMs and would be counted against
//! the broker in the interaction benchmark. Anything else (a terminal, a
//! file) keeps tokio's `stdin()`, so a terminal's flags are never changed.
//!
//! Owns the choice of reader only; must never read or buffer on its own.

use std::os::fd::AsFd;

use tokio::io::AsyncRead;

/// Stdin, non-blocking when it is a pipe.
pub fn stdin_reader() -> Box<dyn AsyncRead + Unpin + Send> {
    match pipe_reader() {
        Some(pipe) => Box::new(pipe),
        None => Box::new(tokio::io::stdin()),
    }
}

fn pipe_reader() -> Option<tokio::net::unix::pipe::Receiver> {
    let fd = std::io::stdin().as_fd().try_clone_to_owned().ok()?;
    // Refuses anything that is not a FIFO, and sets O_NONBLOCK on it
    // (shared with fd 0: nothing else reads fd 0 in this process).
    tokio::net::unix::pipe::Receiver::from_owned_fd(fd).ok()
}
