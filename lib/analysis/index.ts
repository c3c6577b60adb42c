export { GradMonitor } from './gradMonitor';
export type { PartGradStats } from './gradMonitor';
export { pairedDifference, studentTCdf, studentTQuantile } from './stats';
export type { PairedDifference } from './stats';
