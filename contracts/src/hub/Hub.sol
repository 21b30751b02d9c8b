// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {HubStorage} from "./HubStorage.sol";

/// @title Hub
/// @notice The PoCo hub's address: a small router that forwards every call, by its 4-byte
/// selector, to the facet implementing it (delegatecall, so all facets share the hub's storage
/// and balance). This keeps each contract under EIP-170's 24 KB while exposing PoCo's whole
/// IexecInterfaceToken ABI at one address. The routing table is set by the owner with
/// `arcaRoute` (a name PoCo does not use, so no selector can clash with its ABI).
contract Hub {
    /// keccak256(abi.encode(uint256(keccak256("arca.hub.router")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant ROUTES_SLOT = 0x449877c0678dcc64268ca24c569226f5f1df4adbffe18653e2720e6c1ad64a00;

    event RouteUpdated(bytes4 indexed selector, address facet);

    constructor(address owner) {
        // the hub's owner lives in the shared storage: configuration facets check it too
        HubStorage.get().owner = owner;
    }

    function _routes() private pure returns (mapping(bytes4 => address) storage r) {
        bytes32 slot = ROUTES_SLOT;
        assembly {
            r.slot := slot
        }
    }

    /// Points `selectors` at `facet` (zero address removes them). Owner only.
    function arcaRoute(bytes4[] calldata selectors, address facet) external {
        require(msg.sender == HubStorage.get().owner, "Ownable: caller is not the owner");
        require(facet == address(0) || facet.code.length > 0, "facet-has-no-code");
        mapping(bytes4 => address) storage routes = _routes();
        for (uint256 i = 0; i < selectors.length; ++i) {
            routes[selectors[i]] = facet;
            emit RouteUpdated(selectors[i], facet);
        }
    }

    /// The facet serving `selector` (zero when none).
    function arcaFacet(bytes4 selector) external view returns (address) {
        return _routes()[selector];
    }

    fallback() external payable {
        address facet = _routes()[msg.sig];
        require(facet != address(0), "Diamond: Function does not exist");
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), facet, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            switch ok
            case 0 { revert(0, returndatasize()) }
            default { return(0, returndatasize()) }
        }
    }

    receive() external payable {
        revert("fallback-disabled");
    }
}
