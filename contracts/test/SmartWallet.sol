// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title SmartWallet
/// @notice Test fixture: a contract account (EIP-1271) whose signatures are its signer key's
/// ECDSA signatures, and an ERC-734-style identity whose member keys form a group — enough to
/// exercise the hub's contract-signature and group-restriction paths.
contract SmartWallet {
    address public immutable signer;
    mapping(bytes32 => bool) public members;

    constructor(address signer_, address[] memory members_) {
        signer = signer_;
        for (uint256 i = 0; i < members_.length; ++i) {
            members[bytes32(uint256(uint160(members_[i])))] = true;
        }
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && recovered == signer ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }

    /// ERC-734: purpose 4 (GROUPMEMBER) for the member keys.
    function keyHasPurpose(bytes32 key, uint256 purpose) external view returns (bool) {
        return purpose == 4 && members[key];
    }
}
