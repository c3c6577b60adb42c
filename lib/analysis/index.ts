export { GradMonitor } from './gradMonitor';
export type { PartGradStats, BlockGradStats, WindowStats } from './gradMonitor';
export { pairedDifference, studentTCdf, studentTQuantile } from './stats';
export type { PairedDifference } from './stats';
