//! One module per top-level `arca` command.

pub(crate) mod chain;
pub(crate) mod tee;
