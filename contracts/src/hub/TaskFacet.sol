// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {HubBase} from "./HubBase.sol";
import {HubStorage} from "./HubStorage.sol";
import {IexecLibCore_v5} from "../interfaces/IexecTypes.sol";

/// @title TaskFacet
/// @notice The task lifecycle of a deal (PoCo's "Poco2"): initialize, contribute (with the
/// scheduler's authorization and, for TEE tasks, the enclave's signature), consensus, reveal,
/// reopen, finalize with reward distribution, the TEE fast path contributeAndFinalize, claim
/// (refund after the final deadline) and Arca's abortTask (the same refund, earlier, by the
/// workerpool owner). Requirement failures revert without a reason,
/// exactly like PoCo.
contract TaskFacet is HubBase {
    /// Arca extension: the workerpool owner ended the task before its final deadline
    /// (`abortTask`); `cause` is the digest of the scheduler's failure record.
    event TaskAborted(bytes32 indexed taskid, bytes32 cause);

    /// The deal fields the lifecycle needs, unpacked once per call.
    struct DealView {
        address workerpoolOwner;
        uint256 trust;
        bytes32 tag;
        address callback;
        uint256 appPrice;
        address appOwner;
        uint256 datasetPrice;
        address datasetOwner;
        uint256 workerpoolPrice;
        uint256 workerStake;
        uint256 schedulerRewardRatio;
        address sponsor;
    }

    modifier onlyScheduler(bytes32 taskid) {
        HubStorage.Layout storage s = HubStorage.get();
        require(msg.sender == s.deals[s.tasks[taskid].dealid].workerpoolOwner);
        _;
    }

    // ---------------------------------------------------------------- initialize

    function initialize(bytes32 dealid, uint256 idx) public returns (bytes32 taskid) {
        HubStorage.Layout storage s = HubStorage.get();
        HubStorage.PackedDeal storage d = s.deals[dealid];
        uint256 botFirst = d.botFirst;
        require(idx >= botFirst);
        require(idx < botFirst + d.botSize);
        taskid = keccak256(abi.encodePacked(dealid, idx));
        HubStorage.PackedTask storage t = s.tasks[taskid];
        require(t.status == IexecLibCore_v5.TaskStatusEnum.UNSET);
        uint256 timeref = s.categories[d.category].workClockTimeRef;
        uint256 start = d.startTime;
        // deadlines are relative to the deal's start, not to initialization (PoCo semantics)
        t.status = IexecLibCore_v5.TaskStatusEnum.ACTIVE;
        t.contributionDeadline = uint64(start + timeref * CONTRIBUTION_DEADLINE_RATIO);
        t.finalDeadline = uint64(start + timeref * FINAL_DEADLINE_RATIO);
        t.dealid = dealid;
        t.idx = uint192(idx);
        t.timeref = uint64(timeref);
        s.consensus[taskid].total = 1;
        emit TaskInitialize(taskid, d.workerpoolPointer);
    }

    function initializeArray(bytes32[] calldata dealids, uint256[] calldata idxs) external returns (bool) {
        require(dealids.length == idxs.length);
        for (uint256 i = 0; i < dealids.length; ++i) {
            initialize(dealids[i], idxs[i]);
        }
        return true;
    }

    function initializeAndClaimArray(bytes32[] calldata dealids, uint256[] calldata idxs) external returns (bool) {
        require(dealids.length == idxs.length);
        for (uint256 i = 0; i < dealids.length; ++i) {
            claim(initialize(dealids[i], idxs[i]));
        }
        return true;
    }

    // ---------------------------------------------------------------- contribute / consensus

    function contribute(
        bytes32 taskid,
        bytes32 resultHash,
        bytes32 resultSeal,
        address enclaveChallenge,
        bytes calldata enclaveSign,
        bytes calldata authorizationSign
    ) external {
        HubStorage.Layout storage s = HubStorage.get();
        HubStorage.PackedTask storage t = s.tasks[taskid];
        HubStorage.PackedContribution storage c = s.contributions[taskid][msg.sender];
        HubStorage.PackedDeal storage d = s.deals[t.dealid];
        require(t.status == IexecLibCore_v5.TaskStatusEnum.ACTIVE);
        require(t.contributionDeadline > block.timestamp);
        require(c.status == IexecLibCore_v5.ContributionStatusEnum.UNSET);
        _checkAuthorizations(
            taskid, d.tag, d.workerpoolOwner, resultHash, resultSeal, enclaveChallenge, enclaveSign, authorizationSign
        );
        c.status = IexecLibCore_v5.ContributionStatusEnum.CONTRIBUTED;
        c.enclaveChallenge = enclaveChallenge;
        c.resultHash = resultHash;
        c.resultSeal = resultSeal;
        t.contributors.push(msg.sender);
        _lock(msg.sender, d.workerStake);
        emit TaskContribute(taskid, msg.sender, resultHash);

        _vote(s, c, taskid, resultHash);
        _checkConsensus(s, t, taskid, resultHash, d.trust);
    }

    /// Weighted vote: a worker's weight grows with its score; log2 of it is its reward share.
    function _vote(
        HubStorage.Layout storage s,
        HubStorage.PackedContribution storage c,
        bytes32 taskid,
        bytes32 resultHash
    ) private {
        HubStorage.Consensus storage consensus = s.consensus[taskid];
        uint256 weight = Math.max(s.workerScores[msg.sender] / 3, 3) - 1;
        uint256 group = consensus.group[resultHash];
        uint256 delta = Math.max(group, 1) * weight - group;
        c.weight = uint64(Math.log2(weight));
        consensus.group[resultHash] = group + delta;
        consensus.total += delta;
    }

    function _checkAuthorizations(
        bytes32 taskid,
        bytes32 tag,
        address workerpoolOwner,
        bytes32 resultHash,
        bytes32 resultSeal,
        address enclaveChallenge,
        bytes calldata enclaveSign,
        bytes calldata authorizationSign
    ) private view {
        // a TEE deal can only be computed inside an enclave
        require(enclaveChallenge != address(0) || tag[31] & 0x01 == 0);
        address teebroker = HubStorage.get().teebroker;
        address authorizer = (enclaveChallenge != address(0) && teebroker != address(0)) ? teebroker : workerpoolOwner;
        require(_verifyEthSigned(authorizer, abi.encodePacked(msg.sender, taskid, enclaveChallenge), authorizationSign));
        require(
            enclaveChallenge == address(0)
                || _verifyEthSigned(enclaveChallenge, abi.encodePacked(resultHash, resultSeal), enclaveSign)
        );
    }

    function _checkConsensus(
        HubStorage.Layout storage s,
        HubStorage.PackedTask storage t,
        bytes32 taskid,
        bytes32 consensusValue,
        uint256 trust
    ) private {
        HubStorage.Consensus storage consensus = s.consensus[taskid];
        if (consensus.group[consensusValue] * trust > consensus.total * (trust - 1)) {
            uint256 winners = 0;
            address[] storage contributors = t.contributors;
            for (uint256 i = 0; i < contributors.length; ++i) {
                HubStorage.PackedContribution storage c = s.contributions[taskid][contributors[i]];
                // rejected contributions (after a reopen) do not count
                if (c.resultHash == consensusValue && c.status == IexecLibCore_v5.ContributionStatusEnum.CONTRIBUTED) {
                    ++winners;
                }
            }
            t.status = IexecLibCore_v5.TaskStatusEnum.REVEALING;
            t.revealCounter = 0;
            t.winnerCounter = uint24(winners);
            t.revealDeadline = uint64(block.timestamp + t.timeref * REVEAL_DEADLINE_RATIO);
            t.consensusValue = consensusValue;
            emit TaskConsensus(taskid, consensusValue);
        }
    }

    // ---------------------------------------------------------------- reveal / reopen

    function reveal(bytes32 taskid, bytes32 resultDigest) external {
        HubStorage.Layout storage s = HubStorage.get();
        HubStorage.PackedTask storage t = s.tasks[taskid];
        HubStorage.PackedContribution storage c = s.contributions[taskid][msg.sender];
        require(t.status == IexecLibCore_v5.TaskStatusEnum.REVEALING);
        require(t.revealDeadline > block.timestamp);
        require(c.status == IexecLibCore_v5.ContributionStatusEnum.CONTRIBUTED);
        require(c.resultHash == t.consensusValue);
        // the digest must open both commitments: the shared hash and the worker's own seal
        require(c.resultHash == keccak256(abi.encodePacked(taskid, resultDigest)));
        require(c.resultSeal == keccak256(abi.encodePacked(msg.sender, taskid, resultDigest)));
        c.status = IexecLibCore_v5.ContributionStatusEnum.PROVED;
        t.revealCounter += 1;
        t.resultDigest = resultDigest;
        emit TaskReveal(taskid, msg.sender, resultDigest);
    }

    /// Nobody revealed the consensus in time: its contributions are rejected and the task goes
    /// back to collecting contributions.
    function reopen(bytes32 taskid) external onlyScheduler(taskid) {
        HubStorage.Layout storage s = HubStorage.get();
        HubStorage.PackedTask storage t = s.tasks[taskid];
        require(t.status == IexecLibCore_v5.TaskStatusEnum.REVEALING);
        require(t.finalDeadline > block.timestamp);
        require(t.revealDeadline <= block.timestamp && t.revealCounter == 0);
        bytes32 consensusValue = t.consensusValue;
        address[] storage contributors = t.contributors;
        for (uint256 i = 0; i < contributors.length; ++i) {
            HubStorage.PackedContribution storage c = s.contributions[taskid][contributors[i]];
            if (c.resultHash == consensusValue) c.status = IexecLibCore_v5.ContributionStatusEnum.REJECTED;
        }
        HubStorage.Consensus storage consensus = s.consensus[taskid];
        consensus.total -= consensus.group[consensusValue];
        consensus.group[consensusValue] = 0;
        t.status = IexecLibCore_v5.TaskStatusEnum.ACTIVE;
        t.revealDeadline = 0;
        t.winnerCounter = 0;
        t.consensusValue = 0;
        emit TaskReopen(taskid);
    }

    // ---------------------------------------------------------------- finalize

    function finalize(bytes32 taskid, bytes calldata results, bytes calldata resultsCallback)
        external
        onlyScheduler(taskid)
    {
        HubStorage.Layout storage s = HubStorage.get();
        HubStorage.PackedTask storage t = s.tasks[taskid];
        DealView memory d = _dealView(s.deals[t.dealid]);
        require(t.status == IexecLibCore_v5.TaskStatusEnum.REVEALING);
        require(t.finalDeadline > block.timestamp);
        require(t.revealCounter == t.winnerCounter || (t.revealCounter > 0 && t.revealDeadline <= block.timestamp));
        require(
            (d.callback == address(0) && resultsCallback.length == 0) || keccak256(resultsCallback) == t.resultDigest
        );
        t.status = IexecLibCore_v5.TaskStatusEnum.COMPLETED;
        t.results = results;
        if (resultsCallback.length > 0) t.resultsCallback = resultsCallback;
        _successWork(s, d, taskid);
        _distributeRewards(s, t, d, taskid);
        emit TaskFinalize(taskid, results);
        _executeCallback(d.callback, taskid, resultsCallback);
    }

    /// Trust-1 fast path (TEE): contribution, consensus, reveal and finalization in one call.
    /// No worker stake is locked: there is nobody to disagree with.
    function contributeAndFinalize(
        bytes32 taskid,
        bytes32 resultDigest,
        bytes calldata results,
        bytes calldata resultsCallback,
        address enclaveChallenge,
        bytes calldata enclaveSign,
        bytes calldata authorizationSign
    ) external {
        HubStorage.Layout storage s = HubStorage.get();
        HubStorage.PackedTask storage t = s.tasks[taskid];
        DealView memory d = _dealView(s.deals[t.dealid]);
        require(t.status == IexecLibCore_v5.TaskStatusEnum.ACTIVE);
        require(t.contributionDeadline > block.timestamp);
        require(t.contributors.length == 0);
        require(d.trust == 1);
        bytes32 resultHash = keccak256(abi.encodePacked(taskid, resultDigest));
        bytes32 resultSeal = keccak256(abi.encodePacked(msg.sender, taskid, resultDigest));
        require(
            (d.callback == address(0) && resultsCallback.length == 0) || keccak256(resultsCallback) == resultDigest
        );
        _checkAuthorizations(
            taskid, d.tag, d.workerpoolOwner, resultHash, resultSeal, enclaveChallenge, enclaveSign, authorizationSign
        );
        HubStorage.PackedContribution storage c = s.contributions[taskid][msg.sender];
        c.status = IexecLibCore_v5.ContributionStatusEnum.PROVED;
        c.enclaveChallenge = enclaveChallenge;
        c.resultHash = resultHash;
        c.resultSeal = resultSeal;
        t.status = IexecLibCore_v5.TaskStatusEnum.COMPLETED;
        t.revealCounter = 1;
        t.winnerCounter = 1;
        t.revealDeadline = uint64(block.timestamp + t.timeref * REVEAL_DEADLINE_RATIO);
        t.consensusValue = resultHash;
        t.resultDigest = resultDigest;
        t.results = results;
        if (resultsCallback.length > 0) t.resultsCallback = resultsCallback;
        t.contributors.push(msg.sender);
        _successWork(s, d, taskid);
        uint256 workerReward = d.workerpoolPrice * (100 - d.schedulerRewardRatio) / 100;
        _reward(msg.sender, workerReward, taskid);
        _reward(d.workerpoolOwner, d.workerpoolPrice - workerReward, taskid);
        emit TaskContribute(taskid, msg.sender, resultHash);
        emit TaskConsensus(taskid, resultHash);
        emit TaskReveal(taskid, msg.sender, resultDigest);
        emit TaskFinalize(taskid, results);
        _executeCallback(d.callback, taskid, resultsCallback);
    }

    // ---------------------------------------------------------------- claim

    /// After the final deadline an unfinished task fails: the sponsor is refunded, the pool's
    /// stake goes to the kitty and the workers get their stakes back.
    function claim(bytes32 taskid) public {
        HubStorage.Layout storage s = HubStorage.get();
        HubStorage.PackedTask storage t = s.tasks[taskid];
        require(t.status == IexecLibCore_v5.TaskStatusEnum.ACTIVE || t.status == IexecLibCore_v5.TaskStatusEnum.REVEALING);
        require(t.finalDeadline <= block.timestamp);
        _failTask(s, t, taskid);
    }

    /// @notice Arca extension (not in PoCo): the deal's workerpool owner ends a task it knows
    /// cannot succeed (e.g. the app exited with an error on several workers) before the final
    /// deadline, instead of leaving the requester's funds locked until `claim` is possible.
    /// @dev The outcome is exactly `claim`'s (same private payout, `_failTask`): the task is
    /// FAILED, the sponsor gets the full task price back, the pool's stake is seized to the
    /// kitty and every contributor's stake is unlocked. So ending early can never hurt the
    /// requester (refunded in full, as by claim) or the workers (stakes back, as by claim),
    /// and it gives the pool no gain over waiting (it loses its stake either way): it only
    /// shortens the wait. Only the pool owner may call it, because only the scheduler knows
    /// why its workers failed. It is allowed only while the task is ACTIVE (no consensus
    /// reached: a REVEALING task has a result the workers are paid for by finalize) and before
    /// the final deadline (after it, anyone may `claim`). `TaskClaimed` is emitted as by claim,
    /// so PoCo clients and explorers see a claimed task; `TaskAborted` adds the cause, the
    /// digest of the scheduler's failure record (opaque to the hub).
    /// @param taskid the task to end
    /// @param cause digest of why it is ended (Arca's scheduler: keccak256 of its failure cause)
    function abortTask(bytes32 taskid, bytes32 cause) external onlyScheduler(taskid) {
        HubStorage.Layout storage s = HubStorage.get();
        HubStorage.PackedTask storage t = s.tasks[taskid];
        require(t.status == IexecLibCore_v5.TaskStatusEnum.ACTIVE);
        require(t.finalDeadline > block.timestamp);
        _failTask(s, t, taskid);
        emit TaskAborted(taskid, cause);
    }

    function claimArray(bytes32[] calldata taskids) external returns (bool) {
        for (uint256 i = 0; i < taskids.length; ++i) {
            claim(taskids[i]);
        }
        return true;
    }

    // ---------------------------------------------------------------- payouts

    /// The payout of a failed task, shared by claim and abortTask: refund the sponsor, seize
    /// the pool's stake to the kitty, unlock the contributors' stakes.
    function _failTask(HubStorage.Layout storage s, HubStorage.PackedTask storage t, bytes32 taskid) private {
        t.status = IexecLibCore_v5.TaskStatusEnum.FAILED;
        DealView memory d = _dealView(s.deals[t.dealid]);
        uint256 poolStake = d.workerpoolPrice * WORKERPOOL_STAKE_RATIO / 100;
        _unlock(d.sponsor, d.appPrice + d.datasetPrice + d.workerpoolPrice);
        _seize(d.workerpoolOwner, poolStake, taskid);
        s.frozens[KITTY_ADDRESS] += poolStake;
        emit Reward(KITTY_ADDRESS, poolStake, taskid);
        emit Lock(KITTY_ADDRESS, poolStake);
        address[] storage contributors = t.contributors;
        for (uint256 i = 0; i < contributors.length; ++i) {
            _unlock(contributors[i], d.workerStake);
        }
        emit TaskClaimed(taskid);
    }

    function _successWork(HubStorage.Layout storage s, DealView memory d, bytes32 taskid) private {
        _seize(d.sponsor, d.appPrice + d.datasetPrice + d.workerpoolPrice, taskid);
        if (d.appPrice > 0) _reward(d.appOwner, d.appPrice, taskid);
        if (d.datasetPrice > 0) _reward(d.datasetOwner, d.datasetPrice, taskid);
        _unlock(d.workerpoolOwner, d.workerpoolPrice * WORKERPOOL_STAKE_RATIO / 100);
        // the kitty (stakes of failed tasks) trickles back to pools that do their job
        uint256 kitty = s.frozens[KITTY_ADDRESS];
        if (kitty > 0) {
            kitty = Math.min(Math.max(kitty * KITTY_RATIO / 100, KITTY_MIN), kitty);
            _seize(KITTY_ADDRESS, kitty, taskid);
            _reward(d.workerpoolOwner, kitty, taskid);
        }
    }

    function _distributeRewards(
        HubStorage.Layout storage s,
        HubStorage.PackedTask storage t,
        DealView memory d,
        bytes32 taskid
    ) private {
        address[] memory contributors = t.contributors;
        uint256 totalLogWeight = 0;
        uint256 totalReward = d.workerpoolPrice;
        for (uint256 i = 0; i < contributors.length; ++i) {
            HubStorage.PackedContribution storage c = s.contributions[taskid][contributors[i]];
            if (c.status == IexecLibCore_v5.ContributionStatusEnum.PROVED) totalLogWeight += c.weight;
            else totalReward += d.workerStake; // losers' stakes are shared among winners
        }
        uint256 workersReward = totalReward * (100 - d.schedulerRewardRatio) / 100;
        for (uint256 i = 0; i < contributors.length; ++i) {
            address worker = contributors[i];
            HubStorage.PackedContribution storage c = s.contributions[taskid][worker];
            if (c.status == IexecLibCore_v5.ContributionStatusEnum.PROVED) {
                uint256 workerReward = Math.mulDiv(workersReward, c.weight, totalLogWeight);
                totalReward -= workerReward;
                _unlock(worker, d.workerStake);
                _reward(worker, workerReward, taskid);
                if (contributors.length > 1) {
                    s.workerScores[worker] += 1;
                    emit AccurateContribution(worker, taskid);
                }
            } else {
                _seize(worker, d.workerStake, taskid);
                s.workerScores[worker] = Math.mulDiv(s.workerScores[worker], 2, 3);
                emit FaultyContribution(worker, taskid);
            }
        }
        // the scheduler keeps its ratio plus rounding leftovers
        _reward(d.workerpoolOwner, totalReward, taskid);
    }

    /// The callback is best effort: its failure must not block finalization, but the caller
    /// cannot starve it of gas either (the assert below makes such a transaction fail).
    function _executeCallback(address target, bytes32 taskid, bytes calldata resultsCallback) private {
        if (target == address(0)) return;
        uint256 gasLimit = HubStorage.get().callbackgas;
        (bool success,) =
            target.call{gas: gasLimit}(abi.encodeWithSignature("receiveResult(bytes32,bytes)", taskid, resultsCallback));
        assert(gasleft() > gasLimit / 63);
        success;
    }

    function _dealView(HubStorage.PackedDeal storage p) private view returns (DealView memory d) {
        d.workerpoolOwner = p.workerpoolOwner;
        d.trust = p.trust;
        d.tag = p.tag;
        d.callback = p.callback;
        d.appPrice = p.appPrice;
        d.appOwner = p.appOwner;
        d.datasetPrice = p.datasetPrice;
        d.datasetOwner = p.datasetOwner;
        d.workerpoolPrice = p.workerpoolPrice;
        d.workerStake = p.workerStake;
        d.schedulerRewardRatio = p.schedulerRewardRatio;
        d.sponsor = (p.flags & HubStorage.FLAG_SPONSOR != 0) ? p.sponsor : p.requester;
    }
}
