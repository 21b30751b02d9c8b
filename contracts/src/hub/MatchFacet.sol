// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {HubBase} from "./HubBase.sol";
import {HubStorage} from "./HubStorage.sol";
import {IexecLibOrders_v5} from "../interfaces/IexecTypes.sol";
import {IRegistry, IWorkerpoolPolicy} from "../interfaces/IRegistries.sol";

/// @title MatchFacet
/// @notice matchOrders / sponsorMatchOrders: checks the four orders against each other in
/// PoCo's exact order (revert strings iExecV5-matchOrders-0xNN), records the deal packed into
/// 8 slots, consumes the orders' volumes and locks the requester's payment and the workerpool
/// owner's stake in escrow.
contract MatchFacet is HubBase {
    using IexecLibOrders_v5 for IexecLibOrders_v5.AppOrder;
    using IexecLibOrders_v5 for IexecLibOrders_v5.DatasetOrder;
    using IexecLibOrders_v5 for IexecLibOrders_v5.WorkerpoolOrder;
    using IexecLibOrders_v5 for IexecLibOrders_v5.RequestOrder;
    using SafeCast for uint256;

    /// Values computed during matching, kept in memory to stay clear of the stack limit.
    struct Matching {
        bytes32 appHash;
        bytes32 datasetHash;
        bytes32 workerpoolHash;
        bytes32 requestHash;
        address appOwner;
        address datasetOwner;
        address workerpoolOwner;
        bool hasDataset;
        bytes32 tag;
    }

    function matchOrders(
        IexecLibOrders_v5.AppOrder calldata apporder,
        IexecLibOrders_v5.DatasetOrder calldata datasetorder,
        IexecLibOrders_v5.WorkerpoolOrder calldata workerpoolorder,
        IexecLibOrders_v5.RequestOrder calldata requestorder
    ) external returns (bytes32) {
        return _matchOrders(apporder, datasetorder, workerpoolorder, requestorder, requestorder.requester);
    }

    /// Same as matchOrders, but the caller pays for the deal instead of the requester.
    function sponsorMatchOrders(
        IexecLibOrders_v5.AppOrder calldata apporder,
        IexecLibOrders_v5.DatasetOrder calldata datasetorder,
        IexecLibOrders_v5.WorkerpoolOrder calldata workerpoolorder,
        IexecLibOrders_v5.RequestOrder calldata requestorder
    ) external returns (bytes32 dealid) {
        dealid = _matchOrders(apporder, datasetorder, workerpoolorder, requestorder, msg.sender);
        emit DealSponsored(dealid, msg.sender);
    }

    function _matchOrders(
        IexecLibOrders_v5.AppOrder calldata apporder,
        IexecLibOrders_v5.DatasetOrder calldata datasetorder,
        IexecLibOrders_v5.WorkerpoolOrder calldata workerpoolorder,
        IexecLibOrders_v5.RequestOrder calldata requestorder,
        address sponsor
    ) private returns (bytes32 dealid) {
        HubStorage.Layout storage s = HubStorage.get();
        Matching memory m = _checkOrders(apporder, datasetorder, workerpoolorder, requestorder);

        uint256 botFirst = s.consumed[m.requestHash];
        uint256 volume = _remaining(apporder.volume, m.appHash);
        if (m.hasDataset) volume = _min(volume, _remaining(datasetorder.volume, m.datasetHash));
        volume = _min(volume, _remaining(workerpoolorder.volume, m.workerpoolHash));
        volume = _min(volume, requestorder.volume - botFirst);
        require(volume > 0, "iExecV5-matchOrders-0x60");

        dealid = keccak256(abi.encodePacked(m.requestHash, botFirst));
        _storeDeal(s.deals[dealid], m, apporder, datasetorder, workerpoolorder, requestorder, sponsor, botFirst, volume);

        s.consumed[m.appHash] += volume;
        if (m.hasDataset) s.consumed[m.datasetHash] += volume;
        s.consumed[m.workerpoolHash] += volume;
        s.consumed[m.requestHash] = botFirst + volume;

        uint256 datasetPrice = m.hasDataset ? datasetorder.datasetprice : 0;
        _lock(sponsor, (apporder.appprice + datasetPrice + workerpoolorder.workerpoolprice) * volume);
        _lock(m.workerpoolOwner, (workerpoolorder.workerpoolprice * WORKERPOOL_STAKE_RATIO / 100) * volume);

        emit SchedulerNotice(workerpoolorder.workerpool, dealid);
        emit OrdersMatched(dealid, m.appHash, m.datasetHash, m.workerpoolHash, m.requestHash, volume);
    }

    function _checkOrders(
        IexecLibOrders_v5.AppOrder calldata apporder,
        IexecLibOrders_v5.DatasetOrder calldata datasetorder,
        IexecLibOrders_v5.WorkerpoolOrder calldata workerpoolorder,
        IexecLibOrders_v5.RequestOrder calldata requestorder
    ) private view returns (Matching memory m) {
        HubStorage.Layout storage s = HubStorage.get();
        // prices, category, trust
        require(requestorder.category == workerpoolorder.category, "iExecV5-matchOrders-0x00");
        require(requestorder.category < s.categories.length, "iExecV5-matchOrders-0x01");
        require(requestorder.trust <= workerpoolorder.trust, "iExecV5-matchOrders-0x02");
        require(requestorder.appmaxprice >= apporder.appprice, "iExecV5-matchOrders-0x03");
        require(requestorder.datasetmaxprice >= datasetorder.datasetprice, "iExecV5-matchOrders-0x04");
        require(requestorder.workerpoolmaxprice >= workerpoolorder.workerpoolprice, "iExecV5-matchOrders-0x05");
        // tags: the pool must offer every feature asked for; a dataset's TEE-framework bits
        // (1..3) are ignored so SGX-tagged datasets can run on TDX pools
        bytes32 tag = apporder.tag | (datasetorder.tag & ~bytes32(uint256(0xe))) | requestorder.tag;
        require(tag & ~workerpoolorder.tag == 0, "iExecV5-matchOrders-0x06");
        // a TEE deal needs a TEE app and vice versa
        require((tag ^ apporder.tag)[31] & 0x01 == 0, "iExecV5-matchOrders-0x07");
        m.tag = tag;
        // resources named in the request
        require(requestorder.app == apporder.app, "iExecV5-matchOrders-0x10");
        require(requestorder.dataset == datasetorder.dataset, "iExecV5-matchOrders-0x11");
        require(_isAuthorized(requestorder.workerpool, workerpoolorder.workerpool), "iExecV5-matchOrders-0x12");
        // restrictions of each order on the others
        require(_isAuthorized(apporder.datasetrestrict, datasetorder.dataset), "iExecV5-matchOrders-0x13");
        require(_isAuthorized(apporder.workerpoolrestrict, workerpoolorder.workerpool), "iExecV5-matchOrders-0x14");
        require(_isAuthorized(apporder.requesterrestrict, requestorder.requester), "iExecV5-matchOrders-0x15");
        require(_isAuthorized(datasetorder.apprestrict, apporder.app), "iExecV5-matchOrders-0x16");
        require(
            _isAuthorized(datasetorder.workerpoolrestrict, workerpoolorder.workerpool), "iExecV5-matchOrders-0x17"
        );
        require(_isAuthorized(datasetorder.requesterrestrict, requestorder.requester), "iExecV5-matchOrders-0x18");
        require(_isAuthorized(workerpoolorder.apprestrict, apporder.app), "iExecV5-matchOrders-0x19");
        require(_isAuthorized(workerpoolorder.datasetrestrict, datasetorder.dataset), "iExecV5-matchOrders-0x1a");
        require(_isAuthorized(workerpoolorder.requesterrestrict, requestorder.requester), "iExecV5-matchOrders-0x1b");
        // registration and signatures; the registry answers "registered?" and "owner?" at once
        m.appHash = _toTypedDataHash(apporder.hash());
        m.appOwner = IRegistry(s.appregistry).entryOwner(apporder.app);
        require(m.appOwner != address(0), "iExecV5-matchOrders-0x20");
        require(_verifySignatureOrPresignature(m.appOwner, m.appHash, apporder.sign), "iExecV5-matchOrders-0x21");
        m.hasDataset = datasetorder.dataset != address(0);
        if (m.hasDataset) {
            m.datasetHash = _toTypedDataHash(datasetorder.hash());
            m.datasetOwner = IRegistry(s.datasetregistry).entryOwner(datasetorder.dataset);
            require(m.datasetOwner != address(0), "iExecV5-matchOrders-0x30");
            require(
                _verifySignatureOrPresignature(m.datasetOwner, m.datasetHash, datasetorder.sign),
                "iExecV5-matchOrders-0x31"
            );
        }
        m.workerpoolHash = _toTypedDataHash(workerpoolorder.hash());
        m.workerpoolOwner = IRegistry(s.workerpoolregistry).entryOwner(workerpoolorder.workerpool);
        require(m.workerpoolOwner != address(0), "iExecV5-matchOrders-0x40");
        require(
            _verifySignatureOrPresignature(m.workerpoolOwner, m.workerpoolHash, workerpoolorder.sign),
            "iExecV5-matchOrders-0x41"
        );
        m.requestHash = _toTypedDataHash(requestorder.hash());
        require(
            _verifySignatureOrPresignature(requestorder.requester, m.requestHash, requestorder.sign),
            "iExecV5-matchOrders-0x50"
        );
    }

    function _storeDeal(
        HubStorage.PackedDeal storage d,
        Matching memory m,
        IexecLibOrders_v5.AppOrder calldata apporder,
        IexecLibOrders_v5.DatasetOrder calldata datasetorder,
        IexecLibOrders_v5.WorkerpoolOrder calldata workerpoolorder,
        IexecLibOrders_v5.RequestOrder calldata requestorder,
        address sponsor,
        uint256 botFirst,
        uint256 volume
    ) private {
        // Each group below is one storage slot, assigned field by field in one statement run so
        // the optimizer merges them into a single SSTORE.
        d.appPointer = apporder.app;
        d.appPrice = apporder.appprice.toUint96();
        d.appOwner = m.appOwner;
        d.botFirst = botFirst.toUint48();
        d.botSize = volume.toUint48();
        if (m.hasDataset) {
            d.datasetPointer = datasetorder.dataset;
            d.datasetPrice = datasetorder.datasetprice.toUint96();
        }
        IWorkerpoolPolicy pool = IWorkerpoolPolicy(workerpoolorder.workerpool);
        d.datasetOwner = m.datasetOwner;
        d.workerStake = (workerpoolorder.workerpoolprice * pool.m_workerStakeRatioPolicy() / 100).toUint96();
        d.workerpoolPointer = workerpoolorder.workerpool;
        d.workerpoolPrice = workerpoolorder.workerpoolprice.toUint96();
        uint8 flags = (requestorder.beneficiary != requestorder.requester ? HubStorage.FLAG_BENEFICIARY : 0)
            | (sponsor != requestorder.requester ? HubStorage.FLAG_SPONSOR : 0);
        d.workerpoolOwner = m.workerpoolOwner;
        d.startTime = uint40(block.timestamp);
        d.schedulerRewardRatio = pool.m_schedulerRewardRatioPolicy().toUint8();
        d.flags = flags;
        d.requester = requestorder.requester;
        d.category = uint32(requestorder.category); // < categories.length, checked (0x01)
        d.trust = (requestorder.trust == 0 ? 1 : requestorder.trust).toUint64();
        d.tag = m.tag;
        if (flags & HubStorage.FLAG_BENEFICIARY != 0) d.beneficiary = requestorder.beneficiary;
        if (requestorder.callback != address(0)) d.callback = requestorder.callback;
        if (flags & HubStorage.FLAG_SPONSOR != 0) d.sponsor = sponsor;
        if (bytes(requestorder.params).length > 0) d.params = requestorder.params;
    }

    function _remaining(uint256 volume, bytes32 orderHash) private view returns (uint256) {
        return volume - HubStorage.get().consumed[orderHash];
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
