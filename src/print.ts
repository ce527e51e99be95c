import { roundToHalf } from './float16.js';
import type { FloatDType } from './tensor.js';

const MAX_DIGITS: Readonly<Record<FloatDType, number>> = { float16: 5, float32: 9, float64: 17 };

const ROUND: Readonly<Record<FloatDType, (x: number) => number>> = {
  float16: roundToHalf,
  float32: Math.fround,
  float64: (x) => x,
};

/** The fewest significant digits, as "d.ddde±x", that read back to x in `dtype`. */
function shortestExponential(x: number, dtype: FloatDType): string {
  if (dtype === 'float64') return x.toExponential();
  const round = ROUND[dtype];
  for (let digits = 1; digits < MAX_DIGITS[dtype]; digits++) {
    const text = x.toExponential(digits - 1);
    if (round(Number(text)) === x) return text;
  }
  return x.toExponential(MAX_DIGITS[dtype] - 1);
}

/**
 * A scalar as NumPy prints it (`str(np.float32(x))`, Python's float repr):
 * the shortest digits that round-trip in the scalar's dtype, positional
 * when the decimal exponent is in [-4, 16), scientific otherwise, and
 * always with a decimal point or an exponent so it reads as a float.
 */
export function formatScalar(x: number, dtype: FloatDType): string {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa = '', exponentText = '0'] = shortestExponential(x, dtype).split('e');
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const sign = negative ? '-' : '';
  if (exponent < -4 || exponent >= 16) {
    const fraction = digits.length > 1 ? `.${digits.slice(1)}` : '';
    const expSign = exponent < 0 ? '-' : '+';
    return `${sign}${digits[0]}${fraction}e${expSign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  const intPart = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
  const fracPart = digits.slice(exponent + 1);
  return `${sign}${intPart}.${fracPart === '' ? '0' : fracPart}`;
}
