// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Registry, RegistryEntry} from "./Registry.sol";

/// @title Workerpool
/// @notice A registered workerpool and its policies: the share of the pool price each worker
/// must stake to contribute, and the share of the rewards kept by the scheduler (percentages).
contract Workerpool is RegistryEntry {
    string public m_workerpoolDescription;
    uint256 public m_workerStakeRatioPolicy;
    uint256 public m_schedulerRewardRatioPolicy;

    event PolicyUpdate(
        uint256 oldWorkerStakeRatioPolicy,
        uint256 newWorkerStakeRatioPolicy,
        uint256 oldSchedulerRewardRatioPolicy,
        uint256 newSchedulerRewardRatioPolicy
    );

    function initialize(string calldata workerpoolDescription) external initializer {
        m_workerpoolDescription = workerpoolDescription;
        m_workerStakeRatioPolicy = 30;
        m_schedulerRewardRatioPolicy = 1;
    }

    function changePolicy(uint256 newWorkerStakeRatioPolicy, uint256 newSchedulerRewardRatioPolicy)
        external
        onlyOwner
    {
        require(newSchedulerRewardRatioPolicy <= 100, "invalid-ratio");
        emit PolicyUpdate(
            m_workerStakeRatioPolicy,
            newWorkerStakeRatioPolicy,
            m_schedulerRewardRatioPolicy,
            newSchedulerRewardRatioPolicy
        );
        m_workerStakeRatioPolicy = newWorkerStakeRatioPolicy;
        m_schedulerRewardRatioPolicy = newSchedulerRewardRatioPolicy;
    }
}

/// @title WorkerpoolRegistry
/// @notice Creates workerpools (CREATE2, predictable addresses) and tracks ownership as NFTs.
contract WorkerpoolRegistry is Registry {
    constructor() Registry("iExec Workerpool Registry (V5)", "iExecWorkerpoolV5") {}

    function _entryCode() internal pure override returns (bytes memory) {
        return type(Workerpool).creationCode;
    }

    function createWorkerpool(address workerpoolOwner, string calldata workerpoolDescription)
        external
        returns (Workerpool)
    {
        return Workerpool(_create(abi.encodeCall(Workerpool.initialize, (workerpoolDescription)), workerpoolOwner));
    }

    function predictWorkerpool(address workerpoolOwner, string calldata workerpoolDescription)
        external
        view
        returns (Workerpool)
    {
        return Workerpool(_predict(abi.encodeCall(Workerpool.initialize, (workerpoolDescription)), workerpoolOwner));
    }
}
