// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IexecLibOrders_v5
/// @notice The four order structs of the iExec marketplace, their operation wrappers and their
/// EIP-712 typehashes. Field order and type strings are part of the public ABI (selectors of
/// matchOrders & co, typed-data hashes signed by every PoCo client), so they must never change.
library IexecLibOrders_v5 {
    bytes32 internal constant EIP712DOMAIN_TYPEHASH =
        0x8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f;
    bytes32 internal constant APPORDER_TYPEHASH =
        0x60815a0eeec47dddf1615fe53b31d016c31444e01b9d796db365443a6445d008;
    bytes32 internal constant DATASETORDER_TYPEHASH =
        0x6cfc932a5a3d22c4359295b9f433edff52b60703fa47690a04a83e40933dd47c;
    bytes32 internal constant WORKERPOOLORDER_TYPEHASH =
        0xaa3429fb281b34691803133d3d978a75bb77c617ed6bc9aa162b9b30920022bb;
    bytes32 internal constant REQUESTORDER_TYPEHASH =
        0xf24e853034a3a450aba845a82914fbb564ad85accca6cf62be112a154520fae0;
    bytes32 internal constant APPORDEROPERATION_TYPEHASH =
        0x0638bb0702457e2b4b01be8a202579b8bf97e587fb4f2cc4d4aad01f21a06ee0;
    bytes32 internal constant DATASETORDEROPERATION_TYPEHASH =
        0x075eb6f7578ff4292c241bd2484cd5c1d5e6ecc2ddd3317e1d8176b5a45865ec;
    bytes32 internal constant WORKERPOOLORDEROPERATION_TYPEHASH =
        0x322d980b7d7a6a1f7c39ff0c5445da6ae1d8e0393ff0dd468c8be3e2c8644388;
    bytes32 internal constant REQUESTORDEROPERATION_TYPEHASH =
        0x0ded7b52c2d77595a40d242eca751df172b18e686326dbbed3f4748828af77c7;

    enum OrderOperationEnum {
        SIGN,
        CLOSE
    }

    struct EIP712Domain {
        string name;
        string version;
        uint256 chainId;
        address verifyingContract;
    }

    struct AppOrder {
        address app;
        uint256 appprice;
        uint256 volume;
        bytes32 tag;
        address datasetrestrict;
        address workerpoolrestrict;
        address requesterrestrict;
        bytes32 salt;
        bytes sign;
    }

    struct DatasetOrder {
        address dataset;
        uint256 datasetprice;
        uint256 volume;
        bytes32 tag;
        address apprestrict;
        address workerpoolrestrict;
        address requesterrestrict;
        bytes32 salt;
        bytes sign;
    }

    struct WorkerpoolOrder {
        address workerpool;
        uint256 workerpoolprice;
        uint256 volume;
        bytes32 tag;
        uint256 category;
        uint256 trust;
        address apprestrict;
        address datasetrestrict;
        address requesterrestrict;
        bytes32 salt;
        bytes sign;
    }

    struct RequestOrder {
        address app;
        uint256 appmaxprice;
        address dataset;
        uint256 datasetmaxprice;
        address workerpool;
        uint256 workerpoolmaxprice;
        address requester;
        uint256 volume;
        bytes32 tag;
        uint256 category;
        uint256 trust;
        address beneficiary;
        address callback;
        string params;
        bytes32 salt;
        bytes sign;
    }

    struct AppOrderOperation {
        AppOrder order;
        OrderOperationEnum operation;
        bytes sign;
    }

    struct DatasetOrderOperation {
        DatasetOrder order;
        OrderOperationEnum operation;
        bytes sign;
    }

    struct WorkerpoolOrderOperation {
        WorkerpoolOrder order;
        OrderOperationEnum operation;
        bytes sign;
    }

    struct RequestOrderOperation {
        RequestOrder order;
        OrderOperationEnum operation;
        bytes sign;
    }

    // Struct hashes follow EIP-712: keccak256(typehash ‖ encoded fields); `sign` is not hashed.

    function hash(AppOrder calldata o) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                APPORDER_TYPEHASH,
                o.app,
                o.appprice,
                o.volume,
                o.tag,
                o.datasetrestrict,
                o.workerpoolrestrict,
                o.requesterrestrict,
                o.salt
            )
        );
    }

    function hash(DatasetOrder calldata o) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                DATASETORDER_TYPEHASH,
                o.dataset,
                o.datasetprice,
                o.volume,
                o.tag,
                o.apprestrict,
                o.workerpoolrestrict,
                o.requesterrestrict,
                o.salt
            )
        );
    }

    function hash(WorkerpoolOrder calldata o) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                WORKERPOOLORDER_TYPEHASH,
                o.workerpool,
                o.workerpoolprice,
                o.volume,
                o.tag,
                o.category,
                o.trust,
                o.apprestrict,
                o.datasetrestrict,
                o.requesterrestrict,
                o.salt
            )
        );
    }

    function hash(RequestOrder calldata o) internal pure returns (bytes32) {
        // Two abi.encode halves concatenated are byte-identical to one abi.encode of all fields
        // (every field is a static 32-byte word); splitting avoids "stack too deep".
        return keccak256(
            abi.encodePacked(
                abi.encode(
                    REQUESTORDER_TYPEHASH,
                    o.app,
                    o.appmaxprice,
                    o.dataset,
                    o.datasetmaxprice,
                    o.workerpool,
                    o.workerpoolmaxprice
                ),
                abi.encode(
                    o.requester,
                    o.volume,
                    o.tag,
                    o.category,
                    o.trust,
                    o.beneficiary,
                    o.callback,
                    keccak256(bytes(o.params)),
                    o.salt
                )
            )
        );
    }

    function hash(AppOrderOperation calldata op) internal pure returns (bytes32) {
        return keccak256(abi.encode(APPORDEROPERATION_TYPEHASH, hash(op.order), op.operation));
    }

    function hash(DatasetOrderOperation calldata op) internal pure returns (bytes32) {
        return keccak256(abi.encode(DATASETORDEROPERATION_TYPEHASH, hash(op.order), op.operation));
    }

    function hash(WorkerpoolOrderOperation calldata op) internal pure returns (bytes32) {
        return keccak256(abi.encode(WORKERPOOLORDEROPERATION_TYPEHASH, hash(op.order), op.operation));
    }

    function hash(RequestOrderOperation calldata op) internal pure returns (bytes32) {
        return keccak256(abi.encode(REQUESTORDEROPERATION_TYPEHASH, hash(op.order), op.operation));
    }
}

/// @title IexecLibCore_v5
/// @notice The structs returned by the hub's view functions (viewDeal, viewTask, …). These are
/// the *public* shapes; the hub stores deals and tasks packed (see HubStorage) and unpacks them
/// into these structs on read, so existing clients decode the same bytes as with PoCo.
library IexecLibCore_v5 {
    struct Account {
        uint256 stake;
        uint256 locked;
    }

    struct Category {
        string name;
        string description;
        uint256 workClockTimeRef;
    }

    struct Resource {
        address pointer;
        address owner;
        uint256 price;
    }

    struct Deal {
        Resource app;
        Resource dataset;
        Resource workerpool;
        uint256 trust;
        uint256 category;
        bytes32 tag;
        address requester;
        address beneficiary;
        address callback;
        string params;
        uint256 startTime;
        uint256 botFirst;
        uint256 botSize;
        uint256 workerStake;
        uint256 schedulerRewardRatio;
        address sponsor;
    }

    enum TaskStatusEnum {
        UNSET,
        ACTIVE,
        REVEALING,
        COMPLETED,
        FAILED
    }

    struct Task {
        TaskStatusEnum status;
        bytes32 dealid;
        uint256 idx;
        uint256 timeref;
        uint256 contributionDeadline;
        uint256 revealDeadline;
        uint256 finalDeadline;
        bytes32 consensusValue;
        uint256 revealCounter;
        uint256 winnerCounter;
        address[] contributors;
        bytes32 resultDigest;
        bytes results;
        uint256 resultsTimestamp;
        bytes resultsCallback;
    }

    enum ContributionStatusEnum {
        UNSET,
        CONTRIBUTED,
        PROVED,
        REJECTED
    }

    struct Contribution {
        ContributionStatusEnum status;
        bytes32 resultHash;
        bytes32 resultSeal;
        address enclaveChallenge;
        uint256 weight;
    }
}

/// @title IexecLibRegistries_v5
/// @notice The registry-entry views returned by viewApp / viewDataset / viewWorkerpool.
library IexecLibRegistries_v5 {
    struct AppInfo {
        address owner;
        string m_appName;
        string m_appType;
        bytes m_appMultiaddr;
        bytes32 m_appChecksum;
        bytes m_appMREnclave;
    }

    struct DatasetInfo {
        address owner;
        string m_datasetName;
        bytes m_datasetMultiaddr;
        bytes32 m_datasetChecksum;
    }

    struct WorkerpoolInfo {
        address owner;
        string m_workerpoolDescription;
        uint256 m_workerStakeRatioPolicy;
        uint256 m_schedulerRewardRatioPolicy;
    }
}
