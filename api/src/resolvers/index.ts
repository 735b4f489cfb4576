import { BigIntScalar, DateTimeScalar, JSONScalar } from './scalars';
import { identityResolvers } from './identity';
import { productResolvers } from './products';
import { orderResolvers } from './orders';
import { explorerResolvers } from './explorer';
import { adminResolvers } from './admin';
import { contractCallResolvers } from './contractCalls';
import { kycResolvers } from './kyc';
import { adminOpsResolvers } from './adminOps';
import { subscriptionResolvers } from './subscription';
import { consoleResolvers } from './console';

export const resolvers = [
  { BigInt: BigIntScalar, DateTime: DateTimeScalar, JSON: JSONScalar },
  identityResolvers,
  productResolvers,
  orderResolvers,
  explorerResolvers,
  adminResolvers,
  contractCallResolvers,
  kycResolvers,
  adminOpsResolvers,
  subscriptionResolvers,
  consoleResolvers,
];
