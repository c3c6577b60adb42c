// Runs before every test file: collects garbage left by earlier files (in-band suites share one
// process and one native tensor count), so a file's leak check starts from a settled baseline
// instead of seeing an earlier file's undisposed tensors finalized halfway through.
import * as v8 from 'v8';
import * as vm from 'vm';

v8.setFlagsFromString('--expose_gc');
const gc = vm.runInNewContext('gc') as () => void;

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    gc();
    // Node-API finalizers of collected wrappers run on a later tick.
    await new Promise((resolve) => setImmediate(resolve));
  }
});
