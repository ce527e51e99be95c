"""NumPy side of `npm run bench`: generates the data and checks smoothl1's answers.

    python3 test/bench/numpy_tool.py version
    python3 test/bench/numpy_tool.py generate DTYPE ELEMENTS INPUT LABEL
    python3 test/bench/numpy_tool.py reference INPUT LABEL DELTA
    python3 test/bench/numpy_tool.py check-none INPUT LABEL OUTPUT DELTA

Everything here walks the files in bounded chunks (memory maps, never a whole
array), so the checks of 4 GiB inputs fit next to the benchmark itself. The
timed NumPy anchors are *not* here: they are the naive one-liners in
test/bench/rows.ts, because the point is to time what a user would write.
"""
import json
import math
import os
import sys

import numpy as np

# Element chunk for generation and checks: 4 Mi elements keeps the float64
# temporaries at a few tens of MiB.
CHUNK = 1 << 22
SEED = 20261124
DTYPES = {"f2": "<f2", "f4": "<f4", "f8": "<f8"}


def generate(dtype: str, elements: int, input_path: str, label_path: str) -> None:
    """Writes a 1-d INPUT/LABEL pair of the given dtype, chunk by chunk.

    Values are drawn in float64 from a generator seeded per chunk index, so the
    float16, float32 and float64 pairs hold the same numbers rounded
    differently, and a float32 input pairs sensibly with a float64 label (the
    mixed-dtype row reuses them). The label is input + N(0, 1), so |d| falls on
    both sides of delta = 1 and both branches of the loss are exercised.
    """
    descr = DTYPES[dtype]
    header = {"descr": descr, "fortran_order": False, "shape": (elements,)}
    tmp_input, tmp_label = input_path + ".tmp", label_path + ".tmp"
    # Written beside the target and renamed at the end: an interrupted run
    # must not leave a truncated file that the next run would reuse.
    with open(tmp_input, "wb") as fi, open(tmp_label, "wb") as fl:
        np.lib.format.write_array_header_1_0(fi, header)
        np.lib.format.write_array_header_1_0(fl, header)
        for index, start in enumerate(range(0, elements, CHUNK)):
            count = min(CHUNK, elements - start)
            rng = np.random.default_rng([SEED, index])
            pred = rng.normal(0.0, 1.5, size=count)
            label = pred + rng.normal(0.0, 1.0, size=count)
            fi.write(pred.astype(descr).tobytes())
            fl.write(label.astype(descr).tobytes())
    os.replace(tmp_input, input_path)
    os.replace(tmp_label, label_path)


def open_pair(input_path: str, label_path: str):
    x = np.load(input_path, mmap_mode="r")
    y = np.load(label_path, mmap_mode="r")
    if x.shape != y.shape:
        raise SystemExit(f"shape mismatch: {x.shape} vs {y.shape}")
    return x.reshape(-1), y.reshape(-1)


def loss_chunk(x, y, delta: float):
    """Paddle's SmoothL1Loss (Huber form), in float64 as the conformance README requires."""
    d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    a = np.abs(d)
    return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def reference(input_path: str, label_path: str, delta: float) -> dict:
    """The exact-ish sum and mean: float64 chunk sums, combined with fsum."""
    x, y = open_pair(input_path, label_path)
    sums = [float(loss_chunk(x[s:s + CHUNK], y[s:s + CHUNK], delta).sum()) for s in range(0, x.size, CHUNK)]
    total = math.fsum(sums)
    result = np.result_type(x.dtype, y.dtype, np.float16)
    return {
        "elements": int(x.size),
        "sum": total,
        "mean": total / x.size if x.size else None,
        "resultDtype": result.name,
        "eps": float(np.finfo(result).eps),
    }


def check_none(input_path: str, label_path: str, output_path: str, delta: float) -> dict:
    """Compares a `none` output with the loss recomputed here, chunk by chunk."""
    x, y = open_pair(input_path, label_path)
    out = np.load(output_path, mmap_mode="r")
    result = np.result_type(x.dtype, y.dtype, np.float16)
    if out.dtype != result or out.size != x.size:
        return {"ok": False, "reason": f"got {out.dtype}{out.shape}, want {result}{x.shape}", "maxRelDiff": None}
    out = out.reshape(-1)
    eps = float(np.finfo(result).eps)
    # One rounding to the result dtype is allowed; the absolute floor covers
    # values that round into that dtype's subnormal range.
    tiny = float(np.finfo(result).smallest_subnormal)
    worst, bad = 0.0, 0
    for s in range(0, x.size, CHUNK):
        want = loss_chunk(x[s:s + CHUNK], y[s:s + CHUNK], delta)
        got = np.asarray(out[s:s + CHUNK], dtype=np.float64)
        diff = np.abs(got - want)
        rel = diff / np.maximum(np.abs(want), tiny)
        worst = max(worst, float(rel.max(initial=0.0)))
        bad += int(np.count_nonzero(diff > eps * np.abs(want) + tiny))
    return {"ok": bad == 0, "reason": f"{bad} elements off" if bad else "", "maxRelDiff": worst}


def main(argv: list) -> None:
    command, args = argv[0], argv[1:]
    if command == "version":
        print(f"{np.__version__} (python {sys.version.split()[0]})")
    elif command == "generate":
        generate(args[0], int(args[1]), args[2], args[3])
    elif command == "reference":
        print(json.dumps(reference(args[0], args[1], float(args[2]))))
    elif command == "check-none":
        print(json.dumps(check_none(args[0], args[1], args[2], float(args[3]))))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
