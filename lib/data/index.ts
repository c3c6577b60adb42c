export { ImageDataset, DatasetError } from './dataset';
export type { DatasetBatch, ImageDatasetOptions, Indices } from './dataset';
export { EpochSampler } from './sampler';
export type { EpochSamplerOptions, SamplerState } from './sampler';
export { parseIdx, readIdx, readMaybeGzip, loadIdx } from './idx';
export type { IdxArray, IdxDatasetOptions } from './idx';
export { loadCifar10, loadCifar100 } from './cifar';
export type { CifarSplit, CifarOptions, Cifar100Options } from './cifar';
export { loadImageFolder, imageFolderAvailable } from './folder';
export type { ImageFolderOptions } from './folder';
export { fromArrays } from './memory';
export type { ArrayDatasetSource } from './memory';
export {
  FASHION_MNIST_DIR,
  FASHION_MNIST_CLASSES,
  MNIST_CLASSES,
  fashionMnistFiles,
  mnistFiles,
  mnistDataDir,
  loadFashionMnist,
  loadMnist,
  loadDataset,
} from './sources';
export type { Split, KnownDataset, IdxFiles, KnownDatasetOptions } from './sources';
export { openDataset, seededSubset, DATASET_NAMES } from './open';
export type { OpenDatasetOptions } from './open';
