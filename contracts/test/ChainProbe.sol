// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ChainProbe
/// @notice Exercises what a dev chain must get right: storage, events with indexed topics,
/// revert data (Error(string), custom errors, Panic), CREATE and CREATE2, precompiles,
/// block context, value transfers and gas-heavy loops. Used by arca-chain's tests and the
/// differential test against anvil.
contract ChainProbe {
    uint256 public counter;
    mapping(address => uint256) public credits;

    event Incremented(address indexed by, uint256 indexed newValue, bytes32 tag);
    event ChildDeployed(address indexed child, bytes32 salt, bool viaCreate2);
    event Paid(address indexed from, uint256 amount);

    error Custom(uint256 code, address who);

    constructor(uint256 start) payable {
        counter = start;
    }

    receive() external payable {
        credits[msg.sender] += msg.value;
        emit Paid(msg.sender, msg.value);
    }

    function increment(uint256 by, bytes32 tag) external returns (uint256) {
        counter += by;
        emit Incremented(msg.sender, counter, tag);
        return counter;
    }

    function failWithString(string calldata reason) external pure {
        require(false, reason);
    }

    function failWithCustom(uint256 code) external view {
        revert Custom(code, msg.sender);
    }

    function failWithPanic(uint256 divisor) external pure returns (uint256) {
        return 100 / divisor;
    }

    function deployChild(bytes32 salt, bool viaCreate2) external returns (address child) {
        if (viaCreate2) {
            child = address(new ProbeChild{salt: salt}(msg.sender));
        } else {
            child = address(new ProbeChild(msg.sender));
        }
        emit ChildDeployed(child, salt, viaCreate2);
    }

    function predictChild(bytes32 salt, address owner) external view returns (address) {
        bytes32 codeHash = keccak256(abi.encodePacked(type(ProbeChild).creationCode, abi.encode(owner)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, codeHash)))));
    }

    function hashes(bytes calldata data) external pure returns (bytes32 keccak, bytes32 sha, bytes20 ripemd) {
        return (keccak256(data), sha256(data), ripemd160(data));
    }

    function recover(bytes32 digest, uint8 v, bytes32 r, bytes32 s) external pure returns (address) {
        return ecrecover(digest, v, r, s);
    }

    function blockInfo()
        external
        view
        returns (uint256 number, uint256 timestamp, uint256 basefee, uint256 chainid, address coinbase, uint256 gaslimit)
    {
        return (block.number, block.timestamp, block.basefee, block.chainid, block.coinbase, block.gaslimit);
    }

    /// Burns gas in a loop; writes one slot per iteration so gas estimation has real work.
    function burn(uint256 iterations) external returns (uint256 acc) {
        for (uint256 i = 0; i < iterations; i++) {
            acc = uint256(keccak256(abi.encode(acc, i)));
            credits[address(uint160(i))] = acc;
        }
    }

    function withdraw(uint256 amount) external {
        require(credits[msg.sender] >= amount, "insufficient credit");
        credits[msg.sender] -= amount;
        (bool ok,) = msg.sender.call{value: amount}("");
        require(ok, "transfer failed");
    }

    /// Never returns: the transaction runs out of gas (an exceptional halt, not a revert).
    function spin() external {
        while (true) {
            counter++;
        }
    }
}

contract ProbeChild {
    address public owner;

    constructor(address owner_) {
        owner = owner_;
    }
}
