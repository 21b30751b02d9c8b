// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {HubBase} from "./HubBase.sol";
import {HubStorage} from "./HubStorage.sol";
import {IexecLibCore_v5, IexecLibOrders_v5} from "../interfaces/IexecTypes.sol";

/// @title ConfigFacet
/// @notice Administration and configuration of the hub: one-time `configure`, the EIP-712
/// domain, ownership, categories, TEE broker and callback gas, registries, the protocol
/// constants' getters, and the relay (`broadcast*Order`, on-chain order publication).
contract ConfigFacet is HubBase {
    // ---------------------------------------------------------------- configuration

    /// One-time setup by the owner: token, escrow ERC-20 metadata, registries, EIP-712 domain.
    /// The v3 hub of PoCo's migration path is accepted for ABI compatibility and must be zero.
    function configure(
        address token_,
        string calldata name_,
        string calldata symbol_,
        uint8 decimals_,
        address appregistry_,
        address datasetregistry_,
        address workerpoolregistry_,
        address v3iexecHub
    ) external onlyOwner {
        HubStorage.Layout storage s = HubStorage.get();
        require(address(s.token) == address(0), "already-configured");
        require(v3iexecHub == address(0), "v3-hub-not-supported");
        s.token = IERC20(token_);
        s.name = name_;
        s.symbol = symbol_;
        s.decimals = decimals_;
        s.appregistry = appregistry_;
        s.datasetregistry = datasetregistry_;
        s.workerpoolregistry = workerpoolregistry_;
        s.callbackgas = 200_000;
        s.domainSeparator = _domainSeparator();
    }

    function domain() external view returns (IexecLibOrders_v5.EIP712Domain memory) {
        return IexecLibOrders_v5.EIP712Domain("iExecODB", "5.0.0", block.chainid, address(this));
    }

    /// Recomputes the separator, e.g. after a chain fork changed the chain id.
    function updateDomainSeparator() external {
        HubStorage.get().domainSeparator = _domainSeparator();
    }

    function _domainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(
                IexecLibOrders_v5.EIP712DOMAIN_TYPEHASH,
                keccak256("iExecODB"),
                keccak256("5.0.0"),
                block.chainid,
                address(this)
            )
        );
    }

    function eip712domain_separator() external view returns (bytes32) {
        return HubStorage.get().domainSeparator;
    }

    /// Scores of PoCo v3 cannot exist on an Arca chain.
    function importScore(address) external {
        revert("v3-hub-not-supported");
    }

    function setTeeBroker(address teebroker_) external onlyOwner {
        HubStorage.get().teebroker = teebroker_;
    }

    function setCallbackGas(uint256 callbackgas_) external onlyOwner {
        HubStorage.get().callbackgas = callbackgas_;
    }

    function changeRegistries(address appregistry_, address datasetregistry_, address workerpoolregistry_)
        external
        onlyOwner
    {
        HubStorage.Layout storage s = HubStorage.get();
        s.appregistry = appregistry_;
        s.datasetregistry = datasetregistry_;
        s.workerpoolregistry = workerpoolregistry_;
    }

    // ---------------------------------------------------------------- ownership

    function owner() external view returns (address) {
        return HubStorage.get().owner;
    }

    function renounceOwnership() external onlyOwner {
        _setOwner(address(0));
    }

    function transferOwnership(address newOwner) external onlyOwner {
        require(newOwner != address(0), "Ownable: new owner is the zero address");
        _setOwner(newOwner);
    }

    function _setOwner(address newOwner) private {
        HubStorage.Layout storage s = HubStorage.get();
        emit OwnershipTransferred(s.owner, newOwner);
        s.owner = newOwner;
    }

    // ---------------------------------------------------------------- categories

    function createCategory(string calldata name_, string calldata description, uint256 workClockTimeRef)
        external
        onlyOwner
        returns (uint256 catid)
    {
        // deadlines are stored in 64 bits: 10 × workClockTimeRef must fit
        require(workClockTimeRef > 0 && workClockTimeRef <= type(uint32).max, "invalid-workclocktimeref");
        IexecLibCore_v5.Category[] storage categories = HubStorage.get().categories;
        catid = categories.length;
        categories.push(IexecLibCore_v5.Category(name_, description, workClockTimeRef));
        emit CreateCategory(catid, name_, description, workClockTimeRef);
    }

    function viewCategory(uint256 catid) external view returns (IexecLibCore_v5.Category memory) {
        return HubStorage.get().categories[catid];
    }

    function viewCategoryABILegacy(uint256 catid) external view returns (string memory, string memory, uint256) {
        IexecLibCore_v5.Category storage c = HubStorage.get().categories[catid];
        return (c.name, c.description, c.workClockTimeRef);
    }

    function countCategory() external view returns (uint256) {
        return HubStorage.get().categories.length;
    }

    // ---------------------------------------------------------------- getters

    function token() external view returns (address) {
        return address(HubStorage.get().token);
    }

    function appregistry() external view returns (address) {
        return HubStorage.get().appregistry;
    }

    function datasetregistry() external view returns (address) {
        return HubStorage.get().datasetregistry;
    }

    function workerpoolregistry() external view returns (address) {
        return HubStorage.get().workerpoolregistry;
    }

    function teebroker() external view returns (address) {
        return HubStorage.get().teebroker;
    }

    function callbackgas() external view returns (uint256) {
        return HubStorage.get().callbackgas;
    }

    // The constants' getters are `view` (not `pure`) to keep PoCo's ABI mutability.

    function contribution_deadline_ratio() external view returns (uint256) {
        return CONTRIBUTION_DEADLINE_RATIO;
    }

    function reveal_deadline_ratio() external view returns (uint256) {
        return REVEAL_DEADLINE_RATIO;
    }

    function final_deadline_ratio() external view returns (uint256) {
        return FINAL_DEADLINE_RATIO;
    }

    function workerpool_stake_ratio() external view returns (uint256) {
        return WORKERPOOL_STAKE_RATIO;
    }

    function kitty_ratio() external view returns (uint256) {
        return KITTY_RATIO;
    }

    function kitty_min() external view returns (uint256) {
        return KITTY_MIN;
    }

    function kitty_address() external view returns (address) {
        return KITTY_ADDRESS;
    }

    function groupmember_purpose() external view returns (uint256) {
        return GROUPMEMBER_PURPOSE;
    }

    // ---------------------------------------------------------------- relay

    function broadcastAppOrder(IexecLibOrders_v5.AppOrder calldata apporder) external {
        emit BroadcastAppOrder(apporder);
    }

    function broadcastDatasetOrder(IexecLibOrders_v5.DatasetOrder calldata datasetorder) external {
        emit BroadcastDatasetOrder(datasetorder);
    }

    function broadcastWorkerpoolOrder(IexecLibOrders_v5.WorkerpoolOrder calldata workerpoolorder) external {
        emit BroadcastWorkerpoolOrder(workerpoolorder);
    }

    function broadcastRequestOrder(IexecLibOrders_v5.RequestOrder calldata requestorder) external {
        emit BroadcastRequestOrder(requestorder);
    }
}
