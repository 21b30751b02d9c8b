//! One module per top-level `arca` command.

pub(crate) mod account;
pub(crate) mod app;
pub(crate) mod category;
pub(crate) mod chain;
pub(crate) mod dataset;
pub(crate) mod deal;
pub(crate) mod deploy;
pub(crate) mod info;
pub(crate) mod init;
pub(crate) mod market;
pub(crate) mod order;
pub(crate) mod orderbook;
pub(crate) mod result;
pub(crate) mod run;
pub(crate) mod secret;
pub(crate) mod services;
pub(crate) mod sms;
pub(crate) mod storage;
pub(crate) mod tee;
pub(crate) mod up;
pub(crate) mod wallet;
pub(crate) mod workerpool;
