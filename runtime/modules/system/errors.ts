import { defineErrors } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const SystemError = defineErrors(ModuleIndex.system, 'system', {})
