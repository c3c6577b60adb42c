export { Trainer, DEFAULT_TRAINER_CONFIG, totalSteps } from './trainer';
export type { TrainerConfig, StepEvent, FitResult } from './trainer';
export { ProgressReporter } from './progress';
export type { ProgressMode } from './progress';
