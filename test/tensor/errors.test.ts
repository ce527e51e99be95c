import test from 'ava';
import {
  dataLonger,
  dataLongerThan,
  dataShorter,
  fileShrank,
  fromSystemError,
  internalError,
  shapeMismatch,
  shapeTooLarge,
  SmoothL1Error,
  unsupportedDescr,
  usageError,
  type ErrorCode,
} from '../../src/tensor/errors.js';

// Library users match failures on `code`, never on message text, and the
// CLI prints `smoothl1: <message>`: both are part of the interface.

/** An error as Node's fs functions throw them. */
const systemError = (code: string): Error => Object.assign(new Error(`${code}: something, open 'x'`), { code });

test('fromSystemError maps OS error codes to io errors with a readable reason', (t) => {
  for (const [code, reason] of [['ENOENT', 'no such file'], ['EACCES', 'permission denied'], ['ENOSPC', 'no space left on device']] as const) {
    const err = fromSystemError('a.npy', systemError(code));
    t.true(err instanceof SmoothL1Error);
    t.like(err, { code: 'io', file: 'a.npy', reason, message: `a.npy: ${reason}` });
  }
  // An unknown code, or no Error at all, keeps what it said.
  t.is(fromSystemError('a.npy', systemError('EWEIRD')).reason, "EWEIRD: something, open 'x'");
  t.like(fromSystemError('a.npy', 'boom'), { code: 'internal', reason: 'boom' });
  // Something with no errno code is not the operating system's refusal but a bug of ours.
  t.like(fromSystemError('a.npy', new TypeError('x is undefined')), { code: 'internal', reason: 'x is undefined' });
  t.like(fromSystemError('a.npy', systemError('EWEIRD')), { code: 'io' });
});

test('fromSystemError keeps an existing SmoothL1Error as it is', (t) => {
  const original = new SmoothL1Error('corrupt', 'b.arrow', 'bad batch');
  t.is(fromSystemError('other', original), original);
});

test('the message is `<file>: <reason>`, or the reason alone without a file', (t) => {
  t.is(new SmoothL1Error('io', 'x.npy', 'gone').message, 'x.npy: gone');
  const noFile = new SmoothL1Error('usage', undefined, 'bad option');
  t.is(noFile.message, 'bad option');
  t.is(noFile.file, undefined);
  t.is(noFile.name, 'SmoothL1Error');
});

test('every factory gives its documented code and names its file', (t) => {
  const cases: [SmoothL1Error, ErrorCode, string | undefined][] = [
    [shapeMismatch('f', [2, 3], [3]), 'shape-mismatch', 'f'],
    [dataShorter('f', 8, 4), 'data-length', 'f'],
    [dataLonger('f', 8, 12), 'data-length', 'f'],
    [dataLongerThan('f', 8), 'data-length', 'f'],
    [fileShrank('f'), 'io', 'f'],
    [unsupportedDescr('f', '<c16', 'complex'), 'unsupported', 'f'],
    [shapeTooLarge('f'), 'unsupported', 'f'],
    [usageError('no'), 'usage', undefined],
    [internalError('oops'), 'internal', undefined],
  ];
  for (const [err, code, file] of cases) {
    t.true(err instanceof SmoothL1Error);
    t.is(err.code, code, err.message);
    t.is(err.file, file, err.message);
  }
  t.is(shapeMismatch('f', [2, 3], [3]).reason, 'shapes differ: input (2,3) vs label (3,) (no broadcasting)');
  t.is(internalError('oops').message, 'internal error: oops');
});
