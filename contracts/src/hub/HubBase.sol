// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {HubStorage} from "./HubStorage.sol";
import {IexecEvents} from "../interfaces/IexecEvents.sol";
import {IERC734} from "../interfaces/IRegistries.sol";

/// @title HubBase
/// @notice Code shared by the hub's facets: protocol constants, ownership check, escrow
/// primitives (lock / unlock / reward / seize over the staked-RLC ERC-20) and signature checks
/// (EOA ECDSA with low-s enforced, EIP-1271 contracts, on-chain presignatures, ERC-734 groups).
abstract contract HubBase is IexecEvents {
    uint256 internal constant CONTRIBUTION_DEADLINE_RATIO = 7;
    uint256 internal constant REVEAL_DEADLINE_RATIO = 2;
    uint256 internal constant FINAL_DEADLINE_RATIO = 10;
    uint256 internal constant WORKERPOOL_STAKE_RATIO = 30;
    uint256 internal constant KITTY_RATIO = 10;
    uint256 internal constant KITTY_MIN = 1e9;
    /// address(uint160(uint256(keccak256("iExecKitty")) - 1)): frozen funds nobody can spend,
    /// paid out little by little to workerpools that complete tasks.
    address internal constant KITTY_ADDRESS = 0x99c2268479b93fDe36232351229815DF80837e23;
    uint256 internal constant GROUPMEMBER_PURPOSE = 4;

    modifier onlyOwner() {
        require(msg.sender == HubStorage.get().owner, "Ownable: caller is not the owner");
        _;
    }

    // ---------------------------------------------------------------- escrow primitives

    function _transfer(address from, address to, uint256 value) internal {
        require(from != address(0), "ERC20: transfer from the zero address");
        require(to != address(0), "ERC20: transfer to the zero address");
        HubStorage.Layout storage s = HubStorage.get();
        // checked arithmetic: an insufficient balance reverts with Panic(0x11), like PoCo
        s.balances[from] -= value;
        s.balances[to] += value;
        emit Transfer(from, to, value);
    }

    function _mint(address account, uint256 value) internal {
        HubStorage.Layout storage s = HubStorage.get();
        s.totalSupply += value;
        s.balances[account] += value;
        emit Transfer(address(0), account, value);
    }

    function _burn(address account, uint256 value) internal {
        HubStorage.Layout storage s = HubStorage.get();
        s.balances[account] -= value;
        s.totalSupply -= value;
        emit Transfer(account, address(0), value);
    }

    /// Moves `value` of `account`'s balance into the hub and records it as frozen.
    function _lock(address account, uint256 value) internal {
        _transfer(account, address(this), value);
        HubStorage.get().frozens[account] += value;
        emit Lock(account, value);
    }

    function _unlock(address account, uint256 value) internal {
        HubStorage.get().frozens[account] -= value;
        _transfer(address(this), account, value);
        emit Unlock(account, value);
    }

    function _reward(address account, uint256 value, bytes32 ref) internal {
        _transfer(address(this), account, value);
        emit Reward(account, value, ref);
    }

    /// The frozen amount is forfeited: it stays in the hub's balance, owned by nobody.
    function _seize(address account, uint256 value, bytes32 ref) internal {
        HubStorage.get().frozens[account] -= value;
        emit Seize(account, value, ref);
    }

    // ---------------------------------------------------------------- signatures

    function _toTypedDataHash(bytes32 structHash) internal view returns (bytes32 digest) {
        bytes32 separator = HubStorage.get().domainSeparator;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), separator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }

    /// ECDSA (65-byte or EIP-2098 64-byte) for EOAs, EIP-1271 for contracts. High-s signatures
    /// are rejected (no malleable duplicates); lengths other than 64/65 revert like PoCo.
    function _verifySignature(address account, bytes32 hash, bytes memory sign) internal view returns (bool) {
        if (account.code.length > 0) {
            (bool ok, bytes memory ret) =
                account.staticcall(abi.encodeCall(IERC1271.isValidSignature, (hash, sign)));
            return ok && ret.length >= 32 && abi.decode(ret, (bytes4)) == IERC1271.isValidSignature.selector;
        }
        address recovered;
        ECDSA.RecoverError err;
        if (sign.length == 65) {
            (recovered, err,) = ECDSA.tryRecover(hash, sign);
        } else if (sign.length == 64) {
            // EIP-2098 compact form: r ‖ (yParity << 255 | s)
            bytes32 r;
            bytes32 vs;
            assembly ("memory-safe") {
                r := mload(add(sign, 0x20))
                vs := mload(add(sign, 0x40))
            }
            (recovered, err,) = ECDSA.tryRecover(hash, r, vs);
        } else {
            revert("invalid-signature-format");
        }
        return err == ECDSA.RecoverError.NoError && recovered == account;
    }

    function _verifyPresignature(address account, bytes32 hash) internal view returns (bool) {
        return account != address(0) && HubStorage.get().presigned[hash] == account;
    }

    function _verifySignatureOrPresignature(address account, bytes32 hash, bytes calldata sign)
        internal
        view
        returns (bool)
    {
        return _verifyPresignature(account, hash) || _verifySignature(account, hash, sign);
    }

    /// EIP-191 "personal_sign" of a 32-byte hash of `message` (scheduler authorizations, enclave
    /// result signatures).
    function _verifyEthSigned(address account, bytes memory message, bytes memory sign) internal view returns (bool) {
        bytes32 digest = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", keccak256(message)));
        return _verifySignature(account, digest, sign);
    }

    /// A restriction is satisfied by anyone when unset, by the named account itself, or by a
    /// member of an ERC-734 identity contract (key purpose GROUPMEMBER).
    function _isAuthorized(address restriction, address account) internal view returns (bool) {
        if (restriction == address(0) || restriction == account) return true;
        if (restriction.code.length == 0) return false;
        (bool ok, bytes memory ret) = restriction.staticcall(
            abi.encodeCall(IERC734.keyHasPurpose, (bytes32(uint256(uint160(account))), GROUPMEMBER_PURPOSE))
        );
        return ok && ret.length >= 32 && abi.decode(ret, (bool));
    }
}
