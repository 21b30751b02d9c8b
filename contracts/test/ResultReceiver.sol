// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ResultReceiver
/// @notice Test fixture: a deal's callback target (PoCo's `receiveResult(bytes32,bytes)`), which
/// records what the hub delivered so tests can check the callback ran with the task's data.
contract ResultReceiver {
    bytes32 public lastTask;
    bytes public lastResult;
    uint256 public calls;

    function receiveResult(bytes32 taskid, bytes calldata result) external {
        lastTask = taskid;
        lastResult = result;
        calls += 1;
    }
}
