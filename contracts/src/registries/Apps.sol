// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Registry, RegistryEntry} from "./Registry.sol";

/// @title App
/// @notice A registered application: its docker image (multiaddr), checksum and, for TEE apps,
/// the enclave measurement description (MREnclave JSON).
contract App is RegistryEntry {
    string public m_appName;
    string public m_appType;
    bytes public m_appMultiaddr;
    bytes32 public m_appChecksum;
    bytes public m_appMREnclave;

    function initialize(
        string calldata appName,
        string calldata appType,
        bytes calldata appMultiaddr,
        bytes32 appChecksum,
        bytes calldata appMREnclave
    ) external initializer {
        m_appName = appName;
        m_appType = appType;
        m_appMultiaddr = appMultiaddr;
        m_appChecksum = appChecksum;
        m_appMREnclave = appMREnclave;
    }
}

/// @title AppRegistry
/// @notice Creates apps (CREATE2, predictable addresses) and tracks their ownership as NFTs.
contract AppRegistry is Registry {
    constructor() Registry("iExec Application Registry (V5)", "iExecAppsV5") {}

    function _entryCode() internal pure override returns (bytes memory) {
        return type(App).creationCode;
    }

    function _initializer(
        string calldata appName,
        string calldata appType,
        bytes calldata appMultiaddr,
        bytes32 appChecksum,
        bytes calldata appMREnclave
    ) private pure returns (bytes memory) {
        return abi.encodeCall(App.initialize, (appName, appType, appMultiaddr, appChecksum, appMREnclave));
    }

    function createApp(
        address appOwner,
        string calldata appName,
        string calldata appType,
        bytes calldata appMultiaddr,
        bytes32 appChecksum,
        bytes calldata appMREnclave
    ) external returns (App) {
        return App(_create(_initializer(appName, appType, appMultiaddr, appChecksum, appMREnclave), appOwner));
    }

    function predictApp(
        address appOwner,
        string calldata appName,
        string calldata appType,
        bytes calldata appMultiaddr,
        bytes32 appChecksum,
        bytes calldata appMREnclave
    ) external view returns (App) {
        return App(_predict(_initializer(appName, appType, appMultiaddr, appChecksum, appMREnclave), appOwner));
    }
}
