export { GradMonitor } from './gradMonitor';
export type { PartGradStats, BlockGradStats, WindowStats } from './gradMonitor';
export { pairedDifference, studentTCdf, studentTQuantile } from './stats';
export type { PairedDifference } from './stats';
export { pearson, spearman, ranks } from './correlation';
export { signFlipTest, bootstrapInterval, permutationCorrelationTest, seededRandom } from './resampling';
export type { SignFlip } from './resampling';
