//! One module per top-level `arca` command.

pub(crate) mod chain;
pub(crate) mod dataset;
pub(crate) mod deploy;
pub(crate) mod market;
pub(crate) mod sms;
pub(crate) mod tee;
