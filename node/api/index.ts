// Every RPC method of the node, registered in one place.
import { RpcRegistry } from '../rpc/registry.ts'
import { authorMethods, authorSubscriptions } from './authorApi.ts'
import { chainMethods, chainSubscriptions } from './chainApi.ts'
import type { ApiComponents } from './context.ts'
import { ethMethods, ethSubscriptions } from './ethApi.ts'
import { explorerMethods } from './explorerApi.ts'
import { lightMethods } from './lightApi.ts'
import { datanetsMethods } from './datanetsApi.ts'
import { attributionMethods } from './attributionApi.ts'
import { inferenceMethods } from './inferenceApi.ts'
import { governanceMethods } from './governanceApi.ts'
import { modelsMethods } from './modelsApi.ts'
import { openledgerMethods } from './openledgerApi.ts'
import { stakingMethods } from './stakingApi.ts'
import { stateMethods } from './stateApi.ts'
import { systemMethods } from './systemApi.ts'

export function createRpcRegistry(components: ApiComponents): RpcRegistry {
  const registry = new RpcRegistry()
  for (const method of [...systemMethods(components), ...chainMethods(components), ...stateMethods(components), ...authorMethods(components), ...openledgerMethods(components), ...stakingMethods(components), ...datanetsMethods(components), ...modelsMethods(components), ...governanceMethods(components), ...inferenceMethods(components), ...attributionMethods(components), ...ethMethods(components), ...explorerMethods(components), ...lightMethods(components)]) {
    registry.add(method)
  }
  for (const subscription of [...chainSubscriptions(components), ...authorSubscriptions(components), ...ethSubscriptions(components)]) registry.addSubscription(subscription)
  return registry
}
