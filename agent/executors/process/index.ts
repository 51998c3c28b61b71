export { ProcessExecutor, ProcessStep, type ProcessExecutorOptions } from './executor.js';
export { checkReachable, fenceWorkDir, resolveRunAs, RunAsError, type StepUser } from './run-as.js';
