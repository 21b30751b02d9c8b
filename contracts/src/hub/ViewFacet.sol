// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {HubBase} from "./HubBase.sol";
import {HubStorage} from "./HubStorage.sol";
import {IexecLibCore_v5, IexecLibRegistries_v5} from "../interfaces/IexecTypes.sol";
import {IOwnedEntry} from "../interfaces/IRegistries.sol";

interface IAppEntry {
    function m_appName() external view returns (string memory);
    function m_appType() external view returns (string memory);
    function m_appMultiaddr() external view returns (bytes memory);
    function m_appChecksum() external view returns (bytes32);
    function m_appMREnclave() external view returns (bytes memory);
}

interface IDatasetEntry {
    function m_datasetName() external view returns (string memory);
    function m_datasetMultiaddr() external view returns (bytes memory);
    function m_datasetChecksum() external view returns (bytes32);
}

interface IWorkerpoolEntry {
    function m_workerpoolDescription() external view returns (string memory);
    function m_workerStakeRatioPolicy() external view returns (uint256);
    function m_schedulerRewardRatioPolicy() external view returns (uint256);
}

/// @title ViewFacet
/// @notice Read access to deals, tasks, contributions, scores and registry entries. Deals and
/// tasks are unpacked from Arca's compact storage into PoCo's public structs, so the returned
/// ABI encoding is byte-for-byte what PoCo clients expect (legacy tuple variants included).
contract ViewFacet is HubBase {
    // ---------------------------------------------------------------- deals

    function viewDeal(bytes32 dealid) public view returns (IexecLibCore_v5.Deal memory deal) {
        HubStorage.PackedDeal storage p = HubStorage.get().deals[dealid];
        deal.app = IexecLibCore_v5.Resource(p.appPointer, p.appOwner, p.appPrice);
        deal.dataset = IexecLibCore_v5.Resource(p.datasetPointer, p.datasetOwner, p.datasetPrice);
        deal.workerpool = IexecLibCore_v5.Resource(p.workerpoolPointer, p.workerpoolOwner, p.workerpoolPrice);
        deal.trust = p.trust;
        deal.category = p.category;
        deal.tag = p.tag;
        deal.requester = p.requester;
        uint8 flags = p.flags;
        deal.beneficiary = (flags & HubStorage.FLAG_BENEFICIARY != 0) ? p.beneficiary : p.requester;
        deal.callback = p.callback;
        deal.params = p.params;
        deal.startTime = p.startTime;
        deal.botFirst = p.botFirst;
        deal.botSize = p.botSize;
        deal.workerStake = p.workerStake;
        deal.schedulerRewardRatio = p.schedulerRewardRatio;
        deal.sponsor = (flags & HubStorage.FLAG_SPONSOR != 0) ? p.sponsor : p.requester;
    }

    function viewDealABILegacy_pt1(bytes32 dealid)
        external
        view
        returns (address, address, uint256, address, address, uint256, address, address, uint256)
    {
        IexecLibCore_v5.Deal memory d = viewDeal(dealid);
        return (
            d.app.pointer,
            d.app.owner,
            d.app.price,
            d.dataset.pointer,
            d.dataset.owner,
            d.dataset.price,
            d.workerpool.pointer,
            d.workerpool.owner,
            d.workerpool.price
        );
    }

    function viewDealABILegacy_pt2(bytes32 dealid)
        external
        view
        returns (uint256, bytes32, address, address, address, string memory)
    {
        IexecLibCore_v5.Deal memory d = viewDeal(dealid);
        return (d.trust, d.tag, d.requester, d.beneficiary, d.callback, d.params);
    }

    function viewConfigABILegacy(bytes32 dealid)
        external
        view
        returns (uint256, uint256, uint256, uint256, uint256, uint256)
    {
        IexecLibCore_v5.Deal memory d = viewDeal(dealid);
        return (d.category, d.startTime, d.botFirst, d.botSize, d.workerStake, d.schedulerRewardRatio);
    }

    // ---------------------------------------------------------------- tasks

    function viewTask(bytes32 taskid) public view returns (IexecLibCore_v5.Task memory task) {
        HubStorage.PackedTask storage p = HubStorage.get().tasks[taskid];
        task.status = p.status;
        task.dealid = p.dealid;
        task.idx = p.idx;
        task.timeref = p.timeref;
        task.contributionDeadline = p.contributionDeadline;
        task.revealDeadline = p.revealDeadline;
        task.finalDeadline = p.finalDeadline;
        task.consensusValue = p.consensusValue;
        task.revealCounter = p.revealCounter;
        task.winnerCounter = p.winnerCounter;
        task.contributors = p.contributors;
        task.resultDigest = p.resultDigest;
        task.results = p.results;
        task.resultsTimestamp = p.resultsTimestamp;
        task.resultsCallback = p.resultsCallback;
    }

    function viewTaskABILegacy(bytes32 taskid)
        external
        view
        returns (
            IexecLibCore_v5.TaskStatusEnum,
            bytes32,
            uint256,
            uint256,
            uint256,
            uint256,
            uint256,
            bytes32,
            uint256,
            uint256,
            address[] memory,
            bytes memory
        )
    {
        IexecLibCore_v5.Task memory t = viewTask(taskid);
        return (
            t.status,
            t.dealid,
            t.idx,
            t.timeref,
            t.contributionDeadline,
            t.revealDeadline,
            t.finalDeadline,
            t.consensusValue,
            t.revealCounter,
            t.winnerCounter,
            t.contributors,
            t.results
        );
    }

    /// The callback data of a completed task (for oracle-style consumers).
    function resultFor(bytes32 taskid) external view returns (bytes memory) {
        HubStorage.PackedTask storage p = HubStorage.get().tasks[taskid];
        require(p.status == IexecLibCore_v5.TaskStatusEnum.COMPLETED, "task-pending");
        return p.resultsCallback;
    }

    function viewContribution(bytes32 taskid, address worker)
        public
        view
        returns (IexecLibCore_v5.Contribution memory)
    {
        HubStorage.PackedContribution storage c = HubStorage.get().contributions[taskid][worker];
        return IexecLibCore_v5.Contribution(c.status, c.resultHash, c.resultSeal, c.enclaveChallenge, c.weight);
    }

    function viewContributionABILegacy(bytes32 taskid, address worker)
        external
        view
        returns (IexecLibCore_v5.ContributionStatusEnum, bytes32, bytes32, address)
    {
        IexecLibCore_v5.Contribution memory c = viewContribution(taskid, worker);
        return (c.status, c.resultHash, c.resultSeal, c.enclaveChallenge);
    }

    function viewScore(address worker) external view returns (uint256) {
        return HubStorage.get().workerScores[worker];
    }

    // ---------------------------------------------------------------- orders

    function viewConsumed(bytes32 orderHash) external view returns (uint256) {
        return HubStorage.get().consumed[orderHash];
    }

    function viewPresigned(bytes32 orderHash) external view returns (address) {
        return HubStorage.get().presigned[orderHash];
    }

    // ---------------------------------------------------------------- registry entries

    function viewApp(address app) external view returns (IexecLibRegistries_v5.AppInfo memory) {
        IAppEntry e = IAppEntry(app);
        return IexecLibRegistries_v5.AppInfo(
            IOwnedEntry(app).owner(),
            e.m_appName(),
            e.m_appType(),
            e.m_appMultiaddr(),
            e.m_appChecksum(),
            e.m_appMREnclave()
        );
    }

    function viewDataset(address dataset) external view returns (IexecLibRegistries_v5.DatasetInfo memory) {
        IDatasetEntry e = IDatasetEntry(dataset);
        return IexecLibRegistries_v5.DatasetInfo(
            IOwnedEntry(dataset).owner(), e.m_datasetName(), e.m_datasetMultiaddr(), e.m_datasetChecksum()
        );
    }

    function viewWorkerpool(address workerpool) external view returns (IexecLibRegistries_v5.WorkerpoolInfo memory) {
        IWorkerpoolEntry e = IWorkerpoolEntry(workerpool);
        return IexecLibRegistries_v5.WorkerpoolInfo(
            IOwnedEntry(workerpool).owner(),
            e.m_workerpoolDescription(),
            e.m_workerStakeRatioPolicy(),
            e.m_schedulerRewardRatioPolicy()
        );
    }
}
