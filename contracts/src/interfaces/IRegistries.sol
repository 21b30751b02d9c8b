// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Registry and entry interfaces seen by the hub
/// @notice What the hub needs from the App/Dataset/Workerpool registries and entries. Besides
/// PoCo's `isRegistered` and entry `owner()`, Arca's registries expose `entryOwner`, which answers
/// both questions in one call (owner, or zero when not registered) — matchOrders uses it to save
/// an external call per resource.
interface IRegistry {
    function isRegistered(address entry) external view returns (bool);
    function entryOwner(address entry) external view returns (address);
}

interface IOwnedEntry {
    function owner() external view returns (address);
}

interface IWorkerpoolPolicy {
    function m_workerStakeRatioPolicy() external view returns (uint256);
    function m_schedulerRewardRatioPolicy() external view returns (uint256);
}

/// ERC-734 identity contracts may act as a group for order restrictions.
interface IERC734 {
    function keyHasPurpose(bytes32 key, uint256 purpose) external view returns (bool);
}
