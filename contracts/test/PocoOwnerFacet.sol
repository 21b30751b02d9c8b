// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title PocoOwnerFacet
/// @notice Test fixture for the differential tests against iExec PoCo 6.1.0: the npm package
/// ships PoCo's Diamond and facets but not the diamond's ownership facet, and PoCo's facets ask
/// `owner()` of the diamond itself. This facet answers it from the diamond-1 storage layout
/// (struct at keccak256("diamond.standard.diamond.storage"), contract owner in its 4th slot).
contract PocoOwnerFacet {
    function owner() external view returns (address o) {
        bytes32 position = keccak256("diamond.standard.diamond.storage");
        assembly {
            o := sload(add(position, 3))
        }
    }
}
