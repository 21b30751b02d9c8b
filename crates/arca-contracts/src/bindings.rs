//! alloy `sol!` bindings generated at compile time from the committed JSON artifacts in
//! `contracts/artifacts/` (so they can never drift from the deployed bytecode: `node
//! compile.js --check` guards the artifacts, the compiler guards these types).
//!
//! `IexecHub` is the hub's whole public ABI (router + facets, PoCo's `IexecInterfaceToken`
//! plus Arca's routing functions); the other modules are the individually deployed contracts.

#![allow(missing_docs, clippy::too_many_arguments)]

use alloy::sol;

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    IexecHub,
    "../../contracts/artifacts/IexecHub.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    Hub,
    "../../contracts/artifacts/Hub.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    RLC,
    "../../contracts/artifacts/RLC.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    AppRegistry,
    "../../contracts/artifacts/AppRegistry.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    DatasetRegistry,
    "../../contracts/artifacts/DatasetRegistry.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    WorkerpoolRegistry,
    "../../contracts/artifacts/WorkerpoolRegistry.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    App,
    "../../contracts/artifacts/App.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    Dataset,
    "../../contracts/artifacts/Dataset.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    Workerpool,
    "../../contracts/artifacts/Workerpool.json"
);
