// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IexecLibCore_v5} from "../interfaces/IexecTypes.sol";

/// @title HubStorage
/// @notice The single storage layout shared by the hub router and all its facets (they run
/// through delegatecall in the hub's context). It lives at an ERC-7201 namespaced slot so the
/// router's own bookkeeping can never collide with it.
/// @dev Deals and tasks are stored *packed*: PoCo spends most of matchOrders' gas writing a
/// 20+-slot Deal struct. Here a deal takes 8 slots (+ params), and the slots that usually
/// duplicate another field (beneficiary == requester, sponsor == requester, no callback, no
/// dataset) are never written at all. The view functions unpack them into PoCo's public structs.
library HubStorage {
    /// keccak256(abi.encode(uint256(keccak256("arca.hub.storage")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 internal constant SLOT = 0x1a9b857bd90dfdea4b4227cda7b4ec7035c999f8d9f25e80403b45860b148c00;

    uint8 internal constant FLAG_BENEFICIARY = 1; // beneficiary stored (differs from requester)
    uint8 internal constant FLAG_SPONSOR = 2; // sponsor stored (differs from requester)

    /// A deal in 8 storage slots (+ the params string). Prices and stakes are nRLC amounts: they
    /// fit 96 bits (RLC's total supply is below 2^57 nRLC) and a larger price could never be
    /// locked in escrow anyway. Slots written only when non-default are marked "(opt)".
    struct PackedDeal {
        // slot 0
        address appPointer;
        uint96 appPrice;
        // slot 1
        address appOwner;
        uint48 botFirst;
        uint48 botSize;
        // slot 2 (opt: zero when the deal has no dataset)
        address datasetPointer;
        uint96 datasetPrice;
        // slot 3
        address datasetOwner;
        uint96 workerStake;
        // slot 4
        address workerpoolPointer;
        uint96 workerpoolPrice;
        // slot 5
        address workerpoolOwner;
        uint40 startTime;
        uint8 schedulerRewardRatio;
        uint8 flags;
        // slot 6
        address requester;
        uint32 category;
        uint64 trust;
        // slot 7
        bytes32 tag;
        // slot 8 (opt)
        address beneficiary;
        // slot 9 (opt)
        address callback;
        // slot 10 (opt)
        address sponsor;
        // slot 11+
        string params;
    }

    /// A task: the first slot holds status, counters and deadlines, written together.
    struct PackedTask {
        // slot 0
        IexecLibCore_v5.TaskStatusEnum status;
        uint24 revealCounter;
        uint24 winnerCounter;
        uint64 contributionDeadline;
        uint64 revealDeadline;
        uint64 finalDeadline;
        // slot 1
        bytes32 dealid;
        // slot 2
        uint192 idx;
        uint64 timeref;
        // slot 3..
        bytes32 consensusValue;
        address[] contributors;
        bytes32 resultDigest;
        bytes results;
        uint256 resultsTimestamp;
        bytes resultsCallback;
    }

    struct PackedContribution {
        // slot 0
        IexecLibCore_v5.ContributionStatusEnum status;
        address enclaveChallenge;
        uint64 weight;
        // slot 1, 2
        bytes32 resultHash;
        bytes32 resultSeal;
    }

    struct Consensus {
        uint256 total;
        mapping(bytes32 => uint256) group;
    }

    struct Layout {
        // configuration
        address owner;
        IERC20 token;
        address appregistry;
        address datasetregistry;
        address workerpoolregistry;
        address teebroker;
        uint256 callbackgas;
        string name;
        string symbol;
        uint8 decimals;
        bytes32 domainSeparator;
        IexecLibCore_v5.Category[] categories;
        // escrow: the hub's ERC-20 of staked RLC
        uint256 totalSupply;
        mapping(address => uint256) balances;
        mapping(address => uint256) frozens;
        mapping(address => mapping(address => uint256)) allowances;
        // marketplace
        mapping(bytes32 => address) presigned;
        mapping(bytes32 => uint256) consumed;
        mapping(bytes32 => PackedDeal) deals;
        // tasks
        mapping(bytes32 => PackedTask) tasks;
        mapping(bytes32 => Consensus) consensus;
        mapping(bytes32 => mapping(address => PackedContribution)) contributions;
        mapping(address => uint256) workerScores;
    }

    function get() internal pure returns (Layout storage l) {
        bytes32 slot = SLOT;
        assembly {
            l.slot := slot
        }
    }
}
