import test from 'ava';
import { SmoothL1Error } from '../../src/tensor/errors.js';
import { checkPairable } from '../../src/pipeline/pair.js';
import type { TensorHeader, TensorSource } from '../../src/tensor/tensor.js';

const source = (file: string, shape: readonly number[]): TensorSource => {
  const header: TensorHeader = { file, dtype: 'float32', byteOrder: 'little', shape, fortranOrder: false };
  return { header, chunk: () => Promise.reject(new Error('not read')), close: () => Promise.resolve() };
};

test('checkPairable accepts equal shapes, including 0-d and empty', (t) => {
  for (const shape of [[], [0], [3], [3, 4], [2, 0, 5]]) t.notThrows(() => checkPairable(source('a', shape), source('b', [...shape])));
});

for (const [a, b] of [
  [[3, 4], [4, 3]],
  [[3, 4], [12]],
  [[12], [3, 4]],
  [[], [1]],
  [[1], [1, 1]],
  [[3, 4], [3, 4, 1]],
  [[0], [0, 0]],
] as const) {
  test(`checkPairable refuses (${a.join(',')}) against (${b.join(',')}): no broadcasting`, (t) => {
    const err = t.throws(() => checkPairable(source('in.npy', a), source('label.npy', b)), { instanceOf: SmoothL1Error });
    t.is(err?.file, 'label.npy');
    t.regex(err?.reason ?? '', /shapes differ/);
  });
}

