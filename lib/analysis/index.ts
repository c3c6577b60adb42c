export { GradMonitor } from './gradMonitor';
export type { PartGradStats } from './gradMonitor';
