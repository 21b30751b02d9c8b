// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {HubBase} from "./HubBase.sol";
import {HubStorage} from "./HubStorage.sol";
import {IexecLibOrders_v5} from "../interfaces/IexecTypes.sol";
import {IOwnedEntry} from "../interfaces/IRegistries.sol";

/// @title OrderFacet
/// @notice Order management (on-chain presign / cancel by the order's owner or with the owner's
/// EIP-712 signature over the operation), signature helpers exposed to clients, and the
/// read-only order checks `computeDealVolume` and `assertDatasetDealCompatibility`.
contract OrderFacet is HubBase {
    using IexecLibOrders_v5 for IexecLibOrders_v5.AppOrder;
    using IexecLibOrders_v5 for IexecLibOrders_v5.DatasetOrder;
    using IexecLibOrders_v5 for IexecLibOrders_v5.WorkerpoolOrder;
    using IexecLibOrders_v5 for IexecLibOrders_v5.RequestOrder;
    using IexecLibOrders_v5 for IexecLibOrders_v5.AppOrderOperation;
    using IexecLibOrders_v5 for IexecLibOrders_v5.DatasetOrderOperation;
    using IexecLibOrders_v5 for IexecLibOrders_v5.WorkerpoolOrderOperation;
    using IexecLibOrders_v5 for IexecLibOrders_v5.RequestOrderOperation;

    // ---------------------------------------------------------------- order management

    function manageAppOrder(IexecLibOrders_v5.AppOrderOperation calldata op) external {
        address owner = IOwnedEntry(op.order.app).owner();
        _checkOperator(owner, op.hash(), op.sign);
        bytes32 orderHash = _toTypedDataHash(op.order.hash());
        if (op.operation == IexecLibOrders_v5.OrderOperationEnum.SIGN) {
            HubStorage.get().presigned[orderHash] = owner;
            emit SignedAppOrder(orderHash);
        } else {
            HubStorage.get().consumed[orderHash] = op.order.volume;
            emit ClosedAppOrder(orderHash);
        }
    }

    function manageDatasetOrder(IexecLibOrders_v5.DatasetOrderOperation calldata op) external {
        address owner = IOwnedEntry(op.order.dataset).owner();
        _checkOperator(owner, op.hash(), op.sign);
        bytes32 orderHash = _toTypedDataHash(op.order.hash());
        if (op.operation == IexecLibOrders_v5.OrderOperationEnum.SIGN) {
            HubStorage.get().presigned[orderHash] = owner;
            emit SignedDatasetOrder(orderHash);
        } else {
            HubStorage.get().consumed[orderHash] = op.order.volume;
            emit ClosedDatasetOrder(orderHash);
        }
    }

    function manageWorkerpoolOrder(IexecLibOrders_v5.WorkerpoolOrderOperation calldata op) external {
        address owner = IOwnedEntry(op.order.workerpool).owner();
        _checkOperator(owner, op.hash(), op.sign);
        bytes32 orderHash = _toTypedDataHash(op.order.hash());
        if (op.operation == IexecLibOrders_v5.OrderOperationEnum.SIGN) {
            HubStorage.get().presigned[orderHash] = owner;
            emit SignedWorkerpoolOrder(orderHash);
        } else {
            HubStorage.get().consumed[orderHash] = op.order.volume;
            emit ClosedWorkerpoolOrder(orderHash);
        }
    }

    function manageRequestOrder(IexecLibOrders_v5.RequestOrderOperation calldata op) external {
        address owner = op.order.requester;
        _checkOperator(owner, op.hash(), op.sign);
        bytes32 orderHash = _toTypedDataHash(op.order.hash());
        if (op.operation == IexecLibOrders_v5.OrderOperationEnum.SIGN) {
            HubStorage.get().presigned[orderHash] = owner;
            emit SignedRequestOrder(orderHash);
        } else {
            HubStorage.get().consumed[orderHash] = op.order.volume;
            emit ClosedRequestOrder(orderHash);
        }
    }

    /// The owner sends the operation itself, or anyone relays it with the owner's signature.
    function _checkOperator(address owner, bytes32 operationHash, bytes calldata sign) private view {
        require(
            owner == msg.sender || _verifySignature(owner, _toTypedDataHash(operationHash), sign),
            "invalid-sender-or-signature"
        );
    }

    // ---------------------------------------------------------------- signature helpers

    function verifySignature(address account, bytes32 hash, bytes calldata sign) external view returns (bool) {
        return _verifySignature(account, hash, sign);
    }

    function verifyPresignature(address account, bytes32 hash) external view returns (bool) {
        return _verifyPresignature(account, hash);
    }

    function verifyPresignatureOrSignature(address account, bytes32 hash, bytes calldata sign)
        external
        view
        returns (bool)
    {
        return _verifySignatureOrPresignature(account, hash, sign);
    }

    // ---------------------------------------------------------------- read-only order checks

    /// The volume matchOrders would give these orders now (0 when one is exhausted).
    function computeDealVolume(
        IexecLibOrders_v5.AppOrder calldata apporder,
        IexecLibOrders_v5.DatasetOrder calldata datasetorder,
        IexecLibOrders_v5.WorkerpoolOrder calldata workerpoolorder,
        IexecLibOrders_v5.RequestOrder calldata requestorder
    ) external view returns (uint256 volume) {
        mapping(bytes32 => uint256) storage consumed = HubStorage.get().consumed;
        volume = apporder.volume - consumed[_toTypedDataHash(apporder.hash())];
        if (datasetorder.dataset != address(0)) {
            volume = _min(volume, datasetorder.volume - consumed[_toTypedDataHash(datasetorder.hash())]);
        }
        volume = _min(volume, workerpoolorder.volume - consumed[_toTypedDataHash(workerpoolorder.hash())]);
        volume = _min(volume, requestorder.volume - consumed[_toTypedDataHash(requestorder.hash())]);
    }

    /// Can this dataset order be used with an existing dataset-less deal? (bulk processing)
    function assertDatasetDealCompatibility(IexecLibOrders_v5.DatasetOrder calldata datasetorder, bytes32 dealid)
        external
        view
    {
        HubStorage.Layout storage s = HubStorage.get();
        bytes32 orderHash = _toTypedDataHash(datasetorder.hash());
        if (s.consumed[orderHash] >= datasetorder.volume) {
            revert IncompatibleDatasetOrder("Dataset order is revoked or fully consumed");
        }
        address owner = IOwnedEntry(datasetorder.dataset).owner();
        if (!_verifySignatureOrPresignature(owner, orderHash, datasetorder.sign)) {
            revert IncompatibleDatasetOrder("Invalid dataset order signature");
        }
        HubStorage.PackedDeal storage d = s.deals[dealid];
        if (d.requester == address(0)) revert IncompatibleDatasetOrder("Deal not found");
        if (d.datasetPointer != address(0)) revert IncompatibleDatasetOrder("Deal already has a dataset");
        if (!_isAuthorized(datasetorder.apprestrict, d.appPointer)) {
            revert IncompatibleDatasetOrder("App restriction not satisfied");
        }
        if (!_isAuthorized(datasetorder.workerpoolrestrict, d.workerpoolPointer)) {
            revert IncompatibleDatasetOrder("Workerpool restriction not satisfied");
        }
        if (!_isAuthorized(datasetorder.requesterrestrict, d.requester)) {
            revert IncompatibleDatasetOrder("Requester restriction not satisfied");
        }
        bytes32 datasetTag = datasetorder.tag & ~bytes32(uint256(0xe)); // TEE framework bits ignored
        if ((d.tag & datasetTag) != datasetTag) revert IncompatibleDatasetOrder("Tag compatibility not satisfied");
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
