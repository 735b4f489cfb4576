// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Descrow escrow
/// @notice Holds DOT for native orders and records M-Pesa payments and payouts as
/// receipts. Source of truth for every order: every state change emits an event with
/// the orderId indexed, so an indexer can rebuild the full state from logs alone.
/// @dev Compiles with solc (REVM) and resolc (PolkaVM); no assembly, no transient storage.
contract Escrow {
    // ---------------------------------------------------------------- types

    enum PaymentMode {
        Native,
        Mpesa
    }

    enum Status {
        None,
        Created,
        Funded,
        Shipped,
        Delivered,
        Completed,
        Disputed,
        Resolved,
        Cancelled,
        Refunded
    }

    /// @dev Packed into 4 storage slots. Amounts fit in uint128 (checked on entry).
    /// Fee and windows are snapshots taken at creation: later owner changes do not touch them.
    struct Order {
        // slot 0
        address buyer;
        PaymentMode mode;
        Status status;
        uint16 feeBps;
        uint16 buyerShareBps; // set by resolveDispute (10000 = full refund)
        uint8 payoutsDue; // M-Pesa only: bit 1 = seller payout due, bit 2 = buyer refund due
        uint32 shippingWindow; // seconds the seller has to ship once funded
        // slot 1
        address seller;
        uint48 createdAt;
        /// Shipping deadline once funded, confirmation deadline once shipped, on the
        /// contract's clock (see `clock()`): paused time does not count against it.
        uint48 deadline;
        // slot 2
        uint128 amount;
        uint48 fundedAt;
        uint48 shippedAt;
        uint32 confirmationWindow; // seconds the buyer has to confirm or dispute once shipped
        // slot 3
        bytes32 paymentReceipt; // M-Pesa receipt hash that funded the order
    }

    /// @notice What `getOrder` returns: the stored order plus derived amounts.
    struct OrderView {
        bytes32 orderId;
        address buyer;
        address seller;
        uint256 amount;
        PaymentMode mode;
        Status status;
        uint16 feeBps;
        uint16 buyerShareBps;
        uint64 createdAt;
        uint64 fundedAt;
        uint64 shippedAt;
        uint64 deadline; // wall-clock (unix seconds), moved on by any pause since it was set
        bytes32 paymentReceipt;
        bool sellerPayoutDue;
        bool buyerRefundDue;
        uint32 shippingWindow;
        uint32 confirmationWindow;
    }

    uint8 private constant SELLER_DUE = 1;
    uint8 private constant BUYER_DUE = 2;
    uint16 public constant MAX_FEE_BPS = 1000; // 10 %
    uint16 private constant BPS = 10_000;
    /// @notice Bounds for the windows the owner sets: nobody gets less than an hour to ship
    /// or to confirm, and no order is locked up for more than 90 days per step.
    uint32 public constant MIN_WINDOW = 1 hours;
    uint32 public constant MAX_WINDOW = 90 days;

    // ---------------------------------------------------------------- storage

    // One slot, declared first so it packs alone: every order-creating call reads it once.
    uint16 public feeBps;
    bool public paused;
    uint32 public shippingWindow = 7 days;
    uint32 public confirmationWindow = 3 days;
    /// @notice Total seconds the contract has spent paused (finished pauses).
    uint48 public pausedSeconds;
    /// @notice When the current pause began (0 when not paused).
    uint48 public pausedAt;

    address public owner;
    address public oracle;
    address public arbiter;
    address public treasury;

    uint256 private _lock = 1; // reentrancy guard: 1 = free, 2 = entered
    uint256 public accruedFees; // native fees owed to the treasury
    uint256 public totalCredits; // native payouts that could not be pushed, awaiting withdraw()

    mapping(bytes32 => Order) private _orders;
    /// @notice Every M-Pesa receipt hash ever recorded (payments and payouts): one use each.
    mapping(bytes32 => bytes32) public receiptOrder;
    mapping(address => uint256) public credits;

    // ---------------------------------------------------------------- events

    event OrderCreated(
        bytes32 indexed orderId,
        address indexed buyer,
        address indexed seller,
        uint256 amount,
        PaymentMode mode,
        uint16 feeBps,
        string metadataCid,
        uint32 shippingWindow,
        uint32 confirmationWindow
    );
    event OrderFunded(bytes32 indexed orderId, address indexed payer, uint256 amount, uint64 shippingDeadline);
    event OffchainPaymentRecorded(
        bytes32 indexed orderId, bytes32 indexed receiptHash, uint256 amountKes, uint64 shippingDeadline
    );
    event OrderShipped(bytes32 indexed orderId, string trackingCid, uint64 confirmationDeadline);
    event OrderDelivered(bytes32 indexed orderId, bool byTimeout);
    event OrderCompleted(bytes32 indexed orderId, uint256 sellerAmount, uint256 fee);
    event DisputeRaised(bytes32 indexed orderId, address indexed raisedBy, string evidenceCid);
    event DisputeResolved(
        bytes32 indexed orderId, uint16 buyerShareBps, uint256 buyerAmount, uint256 sellerAmount, uint256 fee
    );
    event OrderCancelled(bytes32 indexed orderId, address indexed cancelledBy);
    event OrderRefunded(bytes32 indexed orderId, uint256 amount);
    /// @notice A native payout: pushed to the recipient, or credited for withdraw() if the push failed.
    event PayoutSent(bytes32 indexed orderId, address indexed recipient, uint256 amount, bool credited);
    /// @notice An M-Pesa payout or refund that landed, recorded by the oracle.
    event PayoutRecorded(
        bytes32 indexed orderId, address indexed beneficiary, bytes32 indexed receiptHash, uint256 amountKes
    );

    event Withdrawn(address indexed account, uint256 amount);
    event FeesWithdrawn(address indexed treasury, uint256 amount);
    event OwnerChanged(address indexed previousOwner, address indexed newOwner);
    event OracleChanged(address indexed previousOracle, address indexed newOracle);
    event ArbiterChanged(address indexed previousArbiter, address indexed newArbiter);
    event TreasuryChanged(address indexed previousTreasury, address indexed newTreasury);
    event FeeChanged(uint16 previousFeeBps, uint16 newFeeBps);
    event WindowsChanged(uint32 shippingWindow, uint32 confirmationWindow);
    event Paused(address indexed by);
    /// @notice `pausedFor` seconds are added to every open deadline (paused time does not count).
    event Unpaused(address indexed by, uint64 pausedFor);

    // ---------------------------------------------------------------- errors

    error NotOwner();
    error NotOracle();
    error NotArbiter();
    error NotBuyer();
    error NotSeller();
    error NotParty();
    error ContractPaused();
    error Reentrancy();
    error ZeroAddress();
    error InvalidParties();
    error ZeroAmount();
    error AmountTooLarge();
    error OrderExists(bytes32 orderId);
    error OrderNotFound(bytes32 orderId);
    error InvalidStatus(bytes32 orderId, Status status);
    error WrongPaymentMode(bytes32 orderId);
    error WrongAmount(uint256 expected, uint256 actual);
    error ReceiptAlreadyUsed(bytes32 receiptHash);
    error InvalidReceipt();
    error NoPayoutDue(bytes32 orderId, address beneficiary);
    error DeadlineNotReached(uint64 deadline);
    error FeeTooHigh(uint16 feeBps);
    error InvalidShare(uint16 buyerShareBps);
    error InvalidWindow();
    error AlreadyPaused();
    error NotPaused();
    error NothingToWithdraw();
    error TransferFailed();

    // ---------------------------------------------------------------- modifiers

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    modifier onlyOracle() {
        if (msg.sender != oracle) revert NotOracle();
        _;
    }

    modifier whenNotPaused() {
        if (paused) revert ContractPaused();
        _;
    }

    modifier nonReentrant() {
        if (_lock != 1) revert Reentrancy();
        _lock = 2;
        _;
        _lock = 1;
    }

    constructor(address owner_, address oracle_, address arbiter_, uint16 feeBps_) {
        if (owner_ == address(0) || oracle_ == address(0) || arbiter_ == address(0)) revert ZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_);
        owner = owner_;
        oracle = oracle_;
        arbiter = arbiter_;
        treasury = owner_;
        feeBps = feeBps_;
        emit OwnerChanged(address(0), owner_);
        emit OracleChanged(address(0), oracle_);
        emit ArbiterChanged(address(0), arbiter_);
        emit TreasuryChanged(address(0), owner_);
        emit FeeChanged(0, feeBps_);
        emit WindowsChanged(shippingWindow, confirmationWindow);
    }

    // ---------------------------------------------------------------- order ids

    /// @notice The id of the order `creator` makes with `salt`. Ids are bound to their
    /// creator: a buyer's native order is theirs, an M-Pesa order is the oracle's, and no
    /// other account can occupy either. Off chain: keccak256(abi.encode(creator, salt)).
    function orderIdFor(address creator, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(creator, salt));
    }

    // ---------------------------------------------------------------- native orders

    /// @notice Buyer creates a native (DOT) order with id `orderIdFor(msg.sender, salt)`;
    /// send exactly `amount` to create and fund at once.
    function createOrder(
        bytes32 salt,
        address seller,
        uint256 amount,
        PaymentMode paymentMode,
        string calldata metadataCid
    ) external payable whenNotPaused nonReentrant returns (bytes32 orderId) {
        orderId = orderIdFor(msg.sender, salt);
        if (paymentMode != PaymentMode.Native) revert WrongPaymentMode(orderId);
        if (msg.value != 0 && msg.value != amount) revert WrongAmount(amount, msg.value);
        (, uint48 deadline) = _create(orderId, msg.sender, seller, amount, PaymentMode.Native, metadataCid, msg.value != 0);
        if (msg.value != 0) emit OrderFunded(orderId, msg.sender, msg.value, deadline);
    }

    /// @notice Buyer funds a created native order with exactly its amount.
    function fundOrder(bytes32 orderId) external payable whenNotPaused nonReentrant {
        Order storage o = _existing(orderId);
        if (o.mode != PaymentMode.Native) revert WrongPaymentMode(orderId);
        if (msg.sender != o.buyer) revert NotBuyer();
        if (o.status != Status.Created) revert InvalidStatus(orderId, o.status);
        if (msg.value != o.amount) revert WrongAmount(o.amount, msg.value);
        _fundNative(orderId, o);
    }

    // ---------------------------------------------------------------- M-Pesa orders (oracle)

    /// @notice Oracle creates an M-Pesa order (amount in whole KES) with id
    /// `orderIdFor(oracle, salt)`.
    function createOffchainOrder(
        bytes32 salt,
        address buyer,
        address seller,
        uint256 amountKes,
        string calldata metadataCid
    ) external onlyOracle whenNotPaused returns (bytes32 orderId) {
        orderId = orderIdFor(msg.sender, salt);
        _create(orderId, buyer, seller, amountKes, PaymentMode.Mpesa, metadataCid, false);
    }

    /// @notice Oracle records a verified M-Pesa payment. A receipt funds one order, once.
    function recordOffchainPayment(bytes32 orderId, bytes32 receiptHash, uint256 amountKes)
        external
        onlyOracle
        whenNotPaused
    {
        Order storage o = _existing(orderId);
        if (o.mode != PaymentMode.Mpesa) revert WrongPaymentMode(orderId);
        _recordPayment(orderId, o, receiptHash, amountKes);
    }

    /// @notice Oracle creates an M-Pesa order and records its verified payment in one
    /// transaction (the common case: the order reaches the chain once it is paid).
    /// Emits the same events as createOffchainOrder + recordOffchainPayment.
    function createPaidOffchainOrder(
        bytes32 salt,
        address buyer,
        address seller,
        uint256 amountKes,
        string calldata metadataCid,
        bytes32 receiptHash
    ) external onlyOracle whenNotPaused returns (bytes32 orderId) {
        orderId = orderIdFor(msg.sender, salt);
        if (receiptHash == bytes32(0)) revert InvalidReceipt();
        if (receiptOrder[receiptHash] != bytes32(0)) revert ReceiptAlreadyUsed(receiptHash);
        (Order storage o, uint48 deadline) = _create(orderId, buyer, seller, amountKes, PaymentMode.Mpesa, metadataCid, true);
        receiptOrder[receiptHash] = orderId;
        o.paymentReceipt = receiptHash;
        emit OffchainPaymentRecorded(orderId, receiptHash, amountKes, deadline);
    }

    /// @notice Oracle records an M-Pesa B2C payout (seller) or refund (buyer) that landed.
    /// `amountKes` must equal what the order owes that beneficiary.
    function recordPayout(bytes32 orderId, address beneficiary, bytes32 receiptHash, uint256 amountKes)
        external
        onlyOracle
        whenNotPaused
    {
        if (receiptHash == bytes32(0)) revert InvalidReceipt();
        if (receiptOrder[receiptHash] != bytes32(0)) revert ReceiptAlreadyUsed(receiptHash);
        Order storage o = _existing(orderId);
        if (o.mode != PaymentMode.Mpesa) revert WrongPaymentMode(orderId);
        uint8 bit;
        if (beneficiary == o.seller) bit = SELLER_DUE;
        else if (beneficiary == o.buyer) bit = BUYER_DUE;
        if (bit == 0 || o.payoutsDue & bit == 0) revert NoPayoutDue(orderId, beneficiary);
        (uint256 buyerAmount, uint256 sellerAmount, uint256 fee) = _split(o);
        uint256 owed = bit == SELLER_DUE ? sellerAmount : buyerAmount;
        if (amountKes != owed) revert WrongAmount(owed, amountKes);
        receiptOrder[receiptHash] = orderId;
        o.payoutsDue &= ~bit;
        emit PayoutRecorded(orderId, beneficiary, receiptHash, amountKes);
        // A delivered order is complete once the seller is paid; resolved/refunded orders keep their status.
        if (o.status == Status.Delivered && o.payoutsDue == 0) {
            o.status = Status.Completed;
            emit OrderCompleted(orderId, sellerAmount, fee);
        }
    }

    // ---------------------------------------------------------------- life cycle

    function markShipped(bytes32 orderId, string calldata trackingCid) external whenNotPaused {
        Order storage o = _existing(orderId);
        if (msg.sender != o.seller) revert NotSeller();
        if (o.status != Status.Funded) revert InvalidStatus(orderId, o.status);
        uint48 deadline = _clock() + o.confirmationWindow;
        o.status = Status.Shipped;
        o.shippedAt = uint48(block.timestamp);
        o.deadline = deadline;
        emit OrderShipped(orderId, trackingCid, deadline + pausedSeconds);
    }

    /// @notice Buyer confirms delivery. Native: the seller is paid (minus fee) now.
    /// M-Pesa: the order waits for the oracle's B2C payout.
    function confirmDelivery(bytes32 orderId) external whenNotPaused nonReentrant {
        Order storage o = _existing(orderId);
        if (msg.sender != o.buyer) revert NotBuyer();
        if (o.status != Status.Shipped && o.status != Status.Funded) revert InvalidStatus(orderId, o.status);
        _release(orderId, o, false);
    }

    function raiseDispute(bytes32 orderId, string calldata evidenceCid) external whenNotPaused {
        Order storage o = _existing(orderId);
        if (msg.sender != o.buyer && msg.sender != o.seller) revert NotParty();
        Status s = o.status;
        // Not from Delivered: confirming delivery releases the money (native orders are paid
        // at once; an M-Pesa B2C payout may already be on its way and must stay recordable).
        if (s != Status.Funded && s != Status.Shipped) revert InvalidStatus(orderId, s);
        o.status = Status.Disputed;
        emit DisputeRaised(orderId, msg.sender, evidenceCid);
    }

    /// @notice Arbiter settles a dispute: buyer gets `buyerShareBps` of the amount (no fee),
    /// the seller the rest minus the fee on the seller's part.
    function resolveDispute(bytes32 orderId, uint16 buyerShareBps) external whenNotPaused nonReentrant {
        if (msg.sender != arbiter) revert NotArbiter();
        if (buyerShareBps > BPS) revert InvalidShare(buyerShareBps);
        Order storage o = _existing(orderId);
        if (o.status != Status.Disputed) revert InvalidStatus(orderId, o.status);
        o.status = Status.Resolved;
        o.buyerShareBps = buyerShareBps;
        (uint256 buyerAmount, uint256 sellerAmount, uint256 fee) = _split(o);
        emit DisputeResolved(orderId, buyerShareBps, buyerAmount, sellerAmount, fee);
        if (o.mode == PaymentMode.Native) {
            accruedFees += fee;
            if (buyerAmount != 0) _pay(orderId, o.buyer, buyerAmount);
            if (sellerAmount != 0) _pay(orderId, o.seller, sellerAmount);
        } else {
            o.payoutsDue = (buyerAmount != 0 ? BUYER_DUE : 0) | (sellerAmount != 0 ? SELLER_DUE : 0);
        }
    }

    /// @notice Buyer or seller cancels an order nobody has paid for yet.
    function cancelOrder(bytes32 orderId) external whenNotPaused {
        Order storage o = _existing(orderId);
        if (msg.sender != o.buyer && msg.sender != o.seller && msg.sender != oracle) revert NotParty();
        if (o.status != Status.Created) revert InvalidStatus(orderId, o.status);
        o.status = Status.Cancelled;
        emit OrderCancelled(orderId, msg.sender);
    }

    /// @notice Anyone may enforce a passed deadline: funded but not shipped in time → refund
    /// the buyer; shipped but not confirmed in time → release to the seller.
    function claimTimeout(bytes32 orderId) external whenNotPaused nonReentrant {
        Order storage o = _existing(orderId);
        Status s = o.status;
        if (s != Status.Funded && s != Status.Shipped) revert InvalidStatus(orderId, s);
        if (_clock() <= o.deadline) revert DeadlineNotReached(uint64(o.deadline) + pausedSeconds);
        if (s == Status.Shipped) {
            _release(orderId, o, true);
            return;
        }
        o.status = Status.Refunded;
        o.buyerShareBps = BPS;
        emit OrderRefunded(orderId, o.amount);
        if (o.mode == PaymentMode.Native) _pay(orderId, o.buyer, o.amount);
        else o.payoutsDue = BUYER_DUE;
    }

    // ---------------------------------------------------------------- withdrawals

    /// @notice Pull a native payout whose push failed.
    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[msg.sender] = 0;
        totalCredits -= amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice Send accrued native fees to the treasury.
    function withdrawFees() external onlyOwner nonReentrant {
        uint256 amount = accruedFees;
        if (amount == 0) revert NothingToWithdraw();
        accruedFees = 0;
        emit FeesWithdrawn(treasury, amount);
        (bool ok,) = payable(treasury).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---------------------------------------------------------------- administration

    function setOwner(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnerChanged(owner, newOwner);
        owner = newOwner;
    }

    function setOracle(address newOracle) external onlyOwner {
        if (newOracle == address(0)) revert ZeroAddress();
        emit OracleChanged(oracle, newOracle);
        oracle = newOracle;
    }

    function setArbiter(address newArbiter) external onlyOwner {
        if (newArbiter == address(0)) revert ZeroAddress();
        emit ArbiterChanged(arbiter, newArbiter);
        arbiter = newArbiter;
    }

    function setTreasury(address newTreasury) external onlyOwner {
        if (newTreasury == address(0)) revert ZeroAddress();
        emit TreasuryChanged(treasury, newTreasury);
        treasury = newTreasury;
    }

    function setFeeBps(uint16 newFeeBps) external onlyOwner {
        if (newFeeBps > MAX_FEE_BPS) revert FeeTooHigh(newFeeBps);
        emit FeeChanged(feeBps, newFeeBps);
        feeBps = newFeeBps;
    }

    /// @notice New windows apply to orders created from now on; existing orders keep theirs.
    function setWindows(uint32 newShippingWindow, uint32 newConfirmationWindow) external onlyOwner {
        if (
            newShippingWindow < MIN_WINDOW || newShippingWindow > MAX_WINDOW || newConfirmationWindow < MIN_WINDOW
                || newConfirmationWindow > MAX_WINDOW
        ) revert InvalidWindow();
        shippingWindow = newShippingWindow;
        confirmationWindow = newConfirmationWindow;
        emit WindowsChanged(newShippingWindow, newConfirmationWindow);
    }

    /// @notice Stops every order function and the contract's clock: time spent paused does
    /// not count against any shipping or confirmation deadline.
    function pause() external onlyOwner {
        if (paused) revert AlreadyPaused();
        paused = true;
        pausedAt = uint48(block.timestamp);
        emit Paused(msg.sender);
    }

    /// @notice Restarts the clock; every open deadline moves on by the time spent paused.
    function unpause() external onlyOwner {
        if (!paused) revert NotPaused();
        uint48 pausedFor = uint48(block.timestamp) - pausedAt;
        pausedSeconds += pausedFor;
        paused = false;
        pausedAt = 0;
        emit Unpaused(msg.sender, pausedFor);
    }

    // ---------------------------------------------------------------- views

    /// @notice The contract's clock: unix time minus every second spent paused (frozen
    /// while paused). Order deadlines are kept on this clock.
    function clock() external view returns (uint64) {
        return paused ? pausedAt - pausedSeconds : _clock();
    }

    function getOrder(bytes32 orderId) external view returns (OrderView memory v) {
        Order storage o = _orders[orderId];
        v.orderId = orderId;
        v.buyer = o.buyer;
        v.seller = o.seller;
        v.amount = o.amount;
        v.mode = o.mode;
        v.status = o.status;
        v.feeBps = o.feeBps;
        v.buyerShareBps = o.buyerShareBps;
        v.createdAt = o.createdAt;
        v.fundedAt = o.fundedAt;
        v.shippedAt = o.shippedAt;
        // On the wall clock: the stored clock deadline plus every second paused so far.
        if (o.deadline != 0) v.deadline = uint64(o.deadline) + pausedSeconds + (paused ? uint48(block.timestamp) - pausedAt : 0);
        v.paymentReceipt = o.paymentReceipt;
        v.sellerPayoutDue = o.payoutsDue & SELLER_DUE != 0;
        v.buyerRefundDue = o.payoutsDue & BUYER_DUE != 0;
        v.shippingWindow = o.shippingWindow;
        v.confirmationWindow = o.confirmationWindow;
    }

    function orderStatus(bytes32 orderId) external view returns (Status) {
        return _orders[orderId].status;
    }

    /// @notice What the order pays out as it stands: (buyer, seller, fee). For an order
    /// not yet settled this is the full-release split.
    function payoutSplit(bytes32 orderId) external view returns (uint256 buyerAmount, uint256 sellerAmount, uint256 fee) {
        return _split(_existing(orderId));
    }

    // ---------------------------------------------------------------- internals

    function _create(
        bytes32 orderId,
        address buyer,
        address seller,
        uint256 amount,
        PaymentMode mode,
        string calldata metadataCid,
        bool funded
    ) private returns (Order storage o, uint48 shippingDeadline) {
        if (buyer == address(0) || seller == address(0) || buyer == seller) revert InvalidParties();
        if (amount == 0) revert ZeroAmount();
        if (amount > type(uint128).max) revert AmountTooLarge();
        o = _orders[orderId];
        if (o.status != Status.None) revert OrderExists(orderId);
        uint16 fee = feeBps;
        uint32 shipping = shippingWindow;
        uint32 confirmation = confirmationWindow;
        o.buyer = buyer;
        o.mode = mode;
        o.feeBps = fee;
        o.shippingWindow = shipping;
        o.seller = seller;
        o.createdAt = uint48(block.timestamp);
        o.amount = uint128(amount);
        o.confirmationWindow = confirmation;
        // Created and funded at once: each slot is written once (the caller emits the funding).
        if (funded) {
            o.status = Status.Funded;
            shippingDeadline = uint48(block.timestamp) + shipping;
            o.fundedAt = uint48(block.timestamp);
            o.deadline = shippingDeadline - pausedSeconds;
        } else {
            o.status = Status.Created;
        }
        emit OrderCreated(orderId, buyer, seller, amount, mode, fee, metadataCid, shipping, confirmation);
    }

    function _recordPayment(bytes32 orderId, Order storage o, bytes32 receiptHash, uint256 amountKes) private {
        if (receiptHash == bytes32(0)) revert InvalidReceipt();
        if (receiptOrder[receiptHash] != bytes32(0)) revert ReceiptAlreadyUsed(receiptHash);
        if (o.status != Status.Created) revert InvalidStatus(orderId, o.status);
        if (amountKes != o.amount) revert WrongAmount(o.amount, amountKes);
        receiptOrder[receiptHash] = orderId;
        o.paymentReceipt = receiptHash;
        uint48 deadline = _fund(o);
        emit OffchainPaymentRecorded(orderId, receiptHash, amountKes, deadline);
    }

    function _fundNative(bytes32 orderId, Order storage o) private {
        uint48 deadline = _fund(o);
        emit OrderFunded(orderId, msg.sender, msg.value, deadline);
    }

    /// @dev Returns the shipping deadline on the wall clock (what events carry).
    function _fund(Order storage o) private returns (uint48 deadline) {
        deadline = uint48(block.timestamp) + o.shippingWindow;
        o.status = Status.Funded;
        o.fundedAt = uint48(block.timestamp);
        o.deadline = deadline - pausedSeconds;
    }

    /// @dev The clock while not paused (every caller is whenNotPaused).
    function _clock() private view returns (uint48) {
        return uint48(block.timestamp) - pausedSeconds;
    }

    /// @dev Full release to the seller (buyerShareBps stays 0).
    function _release(bytes32 orderId, Order storage o, bool byTimeout) private {
        emit OrderDelivered(orderId, byTimeout);
        (, uint256 sellerAmount, uint256 fee) = _split(o);
        if (o.mode == PaymentMode.Native) {
            o.status = Status.Completed;
            accruedFees += fee;
            emit OrderCompleted(orderId, sellerAmount, fee);
            _pay(orderId, o.seller, sellerAmount);
        } else {
            o.status = Status.Delivered;
            o.payoutsDue = SELLER_DUE;
        }
    }

    function _split(Order storage o) private view returns (uint256 buyerAmount, uint256 sellerAmount, uint256 fee) {
        uint256 amount = o.amount;
        buyerAmount = (amount * o.buyerShareBps) / BPS;
        uint256 sellerGross = amount - buyerAmount;
        fee = (sellerGross * o.feeBps) / BPS;
        sellerAmount = sellerGross - fee;
    }

    /// @dev Push a native payout; if the recipient refuses it, credit it for withdraw()
    /// so a hostile recipient can never block an order. Effects are done by the caller.
    function _pay(bytes32 orderId, address to, uint256 amount) private {
        // A fixed stipend: enough for wallets that log on receipt, too little to grief the
        // caller by burning gas. Anything the recipient cannot take is credited instead.
        (bool ok,) = payable(to).call{value: amount, gas: 30_000}("");
        if (!ok) {
            credits[to] += amount;
            totalCredits += amount;
        }
        emit PayoutSent(orderId, to, amount, !ok);
    }

    function _existing(bytes32 orderId) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.status == Status.None) revert OrderNotFound(orderId);
    }
}
