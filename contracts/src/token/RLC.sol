// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

interface IApprovalReceiver {
    function receiveApproval(address sender, uint256 amount, address token, bytes calldata extraData)
        external
        returns (bool);
}

/// @title RLC
/// @notice The RLC token for dev chains: an ERC-20 with 9 decimals (amounts are nRLC) and the
/// `approveAndCall` of iExec's RLC, which lets a requester deposit into the hub and match
/// orders in a single transaction. The whole supply (87 M RLC, like mainnet) goes to `holder`.
contract RLC is ERC20 {
    constructor(address holder) ERC20("iExec Network Token", "RLC") {
        _mint(holder, 87_000_000 * 1e9);
    }

    function decimals() public pure override returns (uint8) {
        return 9;
    }

    function approveAndCall(address spender, uint256 value, bytes calldata extraData) external returns (bool) {
        _approve(msg.sender, spender, value);
        require(IApprovalReceiver(spender).receiveApproval(msg.sender, value, address(this), extraData), "approval-refused");
        return true;
    }
}
