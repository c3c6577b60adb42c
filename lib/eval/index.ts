export { knnClassify } from './knn';
export type { KnnOptions, KnnResult } from './knn';
export { linearProbe } from './linearProbe';
export type { LinearProbeOptions, LinearProbeResult } from './linearProbe';
export { pixelFeatures } from './pixels';
export { evaluateRepresentation, EVALUATE_DEFAULTS } from './representation';
export type { EvaluateOptions, FeatureEvaluation, RepresentationResult } from './representation';
