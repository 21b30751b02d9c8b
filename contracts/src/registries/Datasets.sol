// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Registry, RegistryEntry} from "./Registry.sol";

/// @title Dataset
/// @notice A registered dataset: where its (usually encrypted) content lives and its checksum.
contract Dataset is RegistryEntry {
    string public m_datasetName;
    bytes public m_datasetMultiaddr;
    bytes32 public m_datasetChecksum;

    function initialize(string calldata datasetName, bytes calldata datasetMultiaddr, bytes32 datasetChecksum)
        external
        initializer
    {
        m_datasetName = datasetName;
        m_datasetMultiaddr = datasetMultiaddr;
        m_datasetChecksum = datasetChecksum;
    }
}

/// @title DatasetRegistry
/// @notice Creates datasets (CREATE2, predictable addresses) and tracks their ownership as NFTs.
contract DatasetRegistry is Registry {
    constructor() Registry("iExec Dataset Registry (V5)", "iExecDatasetsV5") {}

    function _entryCode() internal pure override returns (bytes memory) {
        return type(Dataset).creationCode;
    }

    function createDataset(
        address datasetOwner,
        string calldata datasetName,
        bytes calldata datasetMultiaddr,
        bytes32 datasetChecksum
    ) external returns (Dataset) {
        bytes memory init = abi.encodeCall(Dataset.initialize, (datasetName, datasetMultiaddr, datasetChecksum));
        return Dataset(_create(init, datasetOwner));
    }

    function predictDataset(
        address datasetOwner,
        string calldata datasetName,
        bytes calldata datasetMultiaddr,
        bytes32 datasetChecksum
    ) external view returns (Dataset) {
        bytes memory init = abi.encodeCall(Dataset.initialize, (datasetName, datasetMultiaddr, datasetChecksum));
        return Dataset(_predict(init, datasetOwner));
    }
}
