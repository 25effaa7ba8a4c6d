//! Agent session pool figures, reported by whatever pool registers itself.

use serde::Serialize;

/// Agent session pool figures at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PoolFigures {
    pub max: usize,
    pub busy: usize,
    pub idle: usize,
}

/// Something that can report pool figures (the broker's session pool).
pub trait PoolView: Send + Sync + 'static {
    fn figures(&self) -> PoolFigures;
}
