export { ProcessExecutor, ProcessStep, type ProcessExecutorOptions } from './executor.js';
