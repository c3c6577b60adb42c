export { METHODS, getMethod, configFor } from './registry';
export type { MethodName, AnyMethodOptions } from './registry';
export type { Method, MethodOptions, MethodCliOption } from './method';
export type { MocoOptions } from './moco';
export type { DinoOptions } from './dino';
