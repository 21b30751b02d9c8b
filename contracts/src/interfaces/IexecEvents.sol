// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IexecLibOrders_v5} from "./IexecTypes.sol";

/// @title IexecEvents
/// @notice Every event the hub emits, with PoCo's exact names, parameter types, indexed flags
/// and parameter names (clients decode logs by name). Facets inherit it so their ABIs carry the
/// events they emit and so a mismatch with the oracle ABI shows up at compile time in one place.
interface IexecEvents {
    // ERC-20 of staked RLC (escrow balances)
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    // escrow movements
    event Lock(address owner, uint256 amount);
    event Unlock(address owner, uint256 amount);
    event Reward(address owner, uint256 amount, bytes32 ref);
    event Seize(address owner, uint256 amount, bytes32 ref);
    // ownership
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    // categories
    event CreateCategory(uint256 catid, string name, string description, uint256 workClockTimeRef);
    // order management
    event SignedAppOrder(bytes32 appHash);
    event SignedDatasetOrder(bytes32 datasetHash);
    event SignedWorkerpoolOrder(bytes32 workerpoolHash);
    event SignedRequestOrder(bytes32 requestHash);
    event ClosedAppOrder(bytes32 appHash);
    event ClosedDatasetOrder(bytes32 datasetHash);
    event ClosedWorkerpoolOrder(bytes32 workerpoolHash);
    event ClosedRequestOrder(bytes32 requestHash);
    // relay (on-chain order publication, no state)
    event BroadcastAppOrder(IexecLibOrders_v5.AppOrder apporder);
    event BroadcastDatasetOrder(IexecLibOrders_v5.DatasetOrder datasetorder);
    event BroadcastWorkerpoolOrder(IexecLibOrders_v5.WorkerpoolOrder workerpoolorder);
    event BroadcastRequestOrder(IexecLibOrders_v5.RequestOrder requestorder);
    // matching
    event SchedulerNotice(address indexed workerpool, bytes32 dealid);
    event OrdersMatched(
        bytes32 dealid, bytes32 appHash, bytes32 datasetHash, bytes32 workerpoolHash, bytes32 requestHash, uint256 volume
    );
    event DealSponsored(bytes32 dealId, address sponsor);
    // task lifecycle
    event TaskInitialize(bytes32 indexed taskid, address indexed workerpool);
    event TaskContribute(bytes32 indexed taskid, address indexed worker, bytes32 hash);
    event TaskConsensus(bytes32 indexed taskid, bytes32 consensus);
    event TaskReveal(bytes32 indexed taskid, address indexed worker, bytes32 digest);
    event TaskReopen(bytes32 indexed taskid);
    event TaskFinalize(bytes32 indexed taskid, bytes results);
    event TaskClaimed(bytes32 indexed taskid);
    event AccurateContribution(address indexed worker, bytes32 indexed taskid);
    event FaultyContribution(address indexed worker, bytes32 indexed taskid);

    error IncompatibleDatasetOrder(string reason);
}
