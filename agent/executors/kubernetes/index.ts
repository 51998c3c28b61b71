export { KubernetesExecutor, type KubernetesExecutorOptions } from './executor.js';
export { buildPod, type PodIds } from './pod.js';
export type { KubernetesPoolSettings } from './settings.js';
