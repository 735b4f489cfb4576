export { createDarajaSimulator, type DarajaSimulator } from './server';
export { darajaSimConfig, parseDarajaSimConfig, darajaSimEnvShape, SANDBOX_PASSKEY, type DarajaSimConfig } from './config';
export { encryptSecurityCredential } from './credentials';
export { ManualClock, systemClock, darajaTimestamp, type Clock } from './time';
export { OUTCOME_ALIASES, STK_RESULTS, B2C_RESULTS, deliveryModes, type Rule, type Delivery, type DeliveryMode, type Outcome } from './rules';
export { LIMITS, DarajaSimState, type StkTransaction, type B2cTransaction, type SimSettings } from './state';
