import { defineErrors } from '../../module.ts'
import { ModuleIndex } from '../indices.ts'

export const FeesError = defineErrors(ModuleIndex.fees, 'fees', {})
