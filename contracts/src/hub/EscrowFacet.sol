// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {HubBase} from "./HubBase.sol";
import {HubStorage} from "./HubStorage.sol";
import {IexecLibCore_v5} from "../interfaces/IexecTypes.sol";

/// Receiver side of ERC-20 `approveAndCall` (PoCo's IexecTokenSpender / RLC's approveAndCall).
interface ITokenSpender {
    function receiveApproval(address sender, uint256 amount, address token, bytes calldata extraData)
        external
        returns (bool);
}

/// @title EscrowFacet
/// @notice The hub's escrow accounts as an ERC-20 of staked RLC: deposits of RLC mint escrow
/// balance 1:1, withdrawals burn it; `frozenOf` is the part locked by deals, contributions and
/// the kitty. RLC's `approveAndCall` can deposit and match orders in one transaction.
contract EscrowFacet is HubBase {
    using SafeERC20 for IERC20;

    /// approveAndCall carried matchOrders calldata for somebody else's request.
    error CallerIsNotTheRequester();

    // ---------------------------------------------------------------- ERC-20 views

    function name() external view returns (string memory) {
        return HubStorage.get().name;
    }

    function symbol() external view returns (string memory) {
        return HubStorage.get().symbol;
    }

    function decimals() external view returns (uint8) {
        return HubStorage.get().decimals;
    }

    function totalSupply() external view returns (uint256) {
        return HubStorage.get().totalSupply;
    }

    function balanceOf(address account) external view returns (uint256) {
        return HubStorage.get().balances[account];
    }

    function frozenOf(address account) external view returns (uint256) {
        return HubStorage.get().frozens[account];
    }

    function allowance(address owner, address spender) external view returns (uint256) {
        return HubStorage.get().allowances[owner][spender];
    }

    function viewAccount(address account) external view returns (IexecLibCore_v5.Account memory) {
        HubStorage.Layout storage s = HubStorage.get();
        return IexecLibCore_v5.Account(s.balances[account], s.frozens[account]);
    }

    function viewAccountABILegacy(address account) external view returns (uint256, uint256) {
        HubStorage.Layout storage s = HubStorage.get();
        return (s.balances[account], s.frozens[account]);
    }

    // ---------------------------------------------------------------- ERC-20 transfers

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        _approve(msg.sender, spender, value);
        return true;
    }

    function approveAndCall(address spender, uint256 value, bytes calldata extraData) external returns (bool) {
        _approve(msg.sender, spender, value);
        require(ITokenSpender(spender).receiveApproval(msg.sender, value, address(this), extraData), "approval-refused");
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        _transfer(from, to, value);
        _approve(from, msg.sender, HubStorage.get().allowances[from][msg.sender] - value);
        return true;
    }

    function increaseAllowance(address spender, uint256 addedValue) external returns (bool) {
        _approve(msg.sender, spender, HubStorage.get().allowances[msg.sender][spender] + addedValue);
        return true;
    }

    function decreaseAllowance(address spender, uint256 subtractedValue) external returns (bool) {
        _approve(msg.sender, spender, HubStorage.get().allowances[msg.sender][spender] - subtractedValue);
        return true;
    }

    function _approve(address owner, address spender, uint256 value) private {
        require(owner != address(0), "ERC20: approve from the zero address");
        require(spender != address(0), "ERC20: approve to the zero address");
        HubStorage.get().allowances[owner][spender] = value;
        emit Approval(owner, spender, value);
    }

    // ---------------------------------------------------------------- deposits / withdrawals

    function deposit(uint256 amount) external returns (bool) {
        _deposit(msg.sender, amount);
        _mint(msg.sender, amount);
        return true;
    }

    function depositFor(uint256 amount, address target) external returns (bool) {
        _deposit(msg.sender, amount);
        _mint(target, amount);
        return true;
    }

    function depositForArray(uint256[] calldata amounts, address[] calldata targets) external returns (bool) {
        require(amounts.length == targets.length, "invalid-array-length");
        for (uint256 i = 0; i < amounts.length; ++i) {
            _deposit(msg.sender, amounts[i]);
            _mint(targets[i], amounts[i]);
        }
        return true;
    }

    function withdraw(uint256 amount) external returns (bool) {
        _burn(msg.sender, amount);
        HubStorage.get().token.safeTransfer(msg.sender, amount);
        return true;
    }

    function withdrawTo(uint256 amount, address target) external returns (bool) {
        _burn(msg.sender, amount);
        HubStorage.get().token.safeTransfer(target, amount);
        return true;
    }

    /// Owner only: mints to the owner the RLC sent to the hub without a deposit (the hub's
    /// token balance above the escrow's total supply).
    function recover() external onlyOwner returns (uint256 delta) {
        HubStorage.Layout storage s = HubStorage.get();
        delta = s.token.balanceOf(address(this)) - s.totalSupply;
        _mint(s.owner, delta);
    }

    /// Called by RLC's approveAndCall: deposits the approved amount, then optionally runs the
    /// matchOrders call carried in `data` on behalf of `sender` (deposit + match in one tx).
    function receiveApproval(address sender, uint256 amount, address token, bytes calldata data)
        external
        returns (bool)
    {
        HubStorage.Layout storage s = HubStorage.get();
        require(token == address(s.token), "wrong-token");
        _deposit(sender, amount);
        _mint(sender, amount);
        if (data.length > 0) {
            require(bytes4(data[:4]) == MATCH_ORDERS_SELECTOR, "unsupported-call");
            // the request's requester field: 4th tuple argument, 7th field of RequestOrder
            uint256 requestOffset = uint256(bytes32(data[4 + 96:4 + 128]));
            address requester = address(uint160(uint256(bytes32(data[4 + requestOffset + 192:4 + requestOffset + 224]))));
            if (requester != sender) revert CallerIsNotTheRequester();
            // the router dispatches the call to the matching facet; msg.sender becomes the hub,
            // which is harmless since matchOrders makes the requester pay
            (bool ok, bytes memory ret) = address(this).call(data);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(ret, 32), mload(ret))
                }
            }
        }
        return true;
    }

    /// matchOrders((address,uint256,uint256,bytes32,address,address,address,bytes32,bytes),…)
    bytes4 private constant MATCH_ORDERS_SELECTOR = 0x156194d4;

    function _deposit(address from, uint256 amount) private {
        HubStorage.get().token.safeTransferFrom(from, address(this), amount);
    }
}
