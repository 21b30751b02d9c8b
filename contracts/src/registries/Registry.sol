// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC721} from "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import {ERC721Enumerable} from "@openzeppelin/contracts/token/ERC721/extensions/ERC721Enumerable.sol";

/// @title Registry
/// @notice Base of the App, Dataset and Workerpool registries: an enumerable ERC-721 whose token
/// ids are entry addresses (tokenId = uint160(entry)), so the NFT's holder *is* the entry's
/// owner and transferring the NFT transfers the resource. Entries are created with CREATE2
/// from (initializer calldata, owner), so their address is predictable before creation and an
/// identical second creation fails.
abstract contract Registry is ERC721Enumerable {
    constructor(string memory name_, string memory symbol_) ERC721(name_, symbol_) {}

    /// The creation code of this registry's entries (without arguments).
    function _entryCode() internal pure virtual returns (bytes memory);

    function isRegistered(address entry) external view returns (bool) {
        return _ownerOf(uint256(uint160(entry))) != address(0);
    }

    /// The owner of a registered entry, zero when `entry` is not registered here (one call
    /// answering both of matchOrders' questions).
    function entryOwner(address entry) external view returns (address) {
        return _ownerOf(uint256(uint160(entry)));
    }

    function _salt(bytes memory initializer, address owner) private pure returns (bytes32) {
        return keccak256(abi.encodePacked(initializer, owner));
    }

    function _predict(bytes memory initializer, address owner) internal view returns (address) {
        bytes32 h = keccak256(
            abi.encodePacked(bytes1(0xff), address(this), _salt(initializer, owner), keccak256(_entryCode()))
        );
        return address(uint160(uint256(h)));
    }

    /// Deploys the entry, mints its NFT to `owner`, then initializes it with `initializer`.
    function _create(bytes memory initializer, address owner) internal returns (address entry) {
        bytes memory code = _entryCode();
        bytes32 salt = _salt(initializer, owner);
        assembly ("memory-safe") {
            entry := create2(0, add(code, 0x20), mload(code), salt)
        }
        require(entry != address(0), "Create2: Failed on deploy");
        _mint(owner, uint256(uint160(entry)));
        (bool ok, bytes memory ret) = entry.call(initializer);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }
}

/// @title RegistryEntry
/// @notice Base of App, Dataset and Workerpool: the owner is whoever holds the entry's NFT in
/// the registry that created it; initialization can only come from that registry, once.
abstract contract RegistryEntry {
    ERC721 public immutable registry;
    bool private _initialized;

    constructor() {
        registry = ERC721(msg.sender);
    }

    /// ERC-5313 owner: the holder of this entry's NFT.
    function owner() public view returns (address) {
        return registry.ownerOf(uint256(uint160(address(this))));
    }

    modifier initializer() {
        require(msg.sender == address(registry) && !_initialized, "already-initialized");
        _initialized = true;
        _;
    }

    modifier onlyOwner() {
        require(msg.sender == owner(), "caller-is-not-the-owner");
        _;
    }
}
