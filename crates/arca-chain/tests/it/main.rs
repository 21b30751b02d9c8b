//! Integration tests of the dev chain: real nodes on random ports driven by alloy clients, the way
//! every other Arca part (and ethers, and the iexec SDK) talks to them.

mod common;
mod differential;
mod persistence;
mod rpc;
