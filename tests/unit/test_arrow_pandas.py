"""`arrow_columns.without_pandas_interop`: a replay process converts Arrow columns without importing
pandas (0.4 s), and a process that has pandas already keeps pyarrow's pandas conversions. Each case
runs in a fresh interpreter: pyarrow keeps its answer for the process."""

from __future__ import annotations

import subprocess
import sys

REPLAY_ONLY = """
import sys
from services.audit.arrow_columns import without_pandas_interop
without_pandas_interop()
import pyarrow as pa
assert pa.array([1, None]).fill_null(0).to_numpy().tolist() == [1, 0]
assert pa.chunked_array([pa.array(["a"])]).to_numpy(zero_copy_only=False).tolist() == ["a"]
assert "pandas" not in sys.modules
import pandas  # still importable: only pyarrow looks away
print("ok")
"""

WITH_PANDAS = """
import pandas as pd
from services.audit.arrow_columns import without_pandas_interop
without_pandas_interop()
import pyarrow as pa
assert pa.Table.from_pandas(pd.DataFrame({"x": [1, 2]})).to_pandas()["x"].tolist() == [1, 2]
print("ok")
"""


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_replay_process_converts_arrow_columns_without_pandas() -> None:
    assert _run(REPLAY_ONLY) == "ok"


def test_a_process_with_pandas_keeps_pyarrows_pandas_conversions() -> None:
    assert _run(WITH_PANDAS) == "ok"


def test_arrays_built_from_buffers_hold_the_values_given() -> None:
    """`strings` and `indices` (built from buffers, not `pa.array`, which probes for pandas)."""
    import numpy as np
    import pyarrow as pa

    from services.audit.arrow_columns import indices, strings

    texts = strings(["ab", None, "", "åäö", None])
    texts.validate(full=True)
    assert texts.type == pa.string() and texts.null_count == 2
    assert texts.to_pylist() == ["ab", None, "", "åäö", None]
    assert strings([]).to_pylist() == []
    rows = indices(np.array([3, 0, 2], dtype=np.int32))
    rows.validate(full=True)
    assert rows.type == pa.int64()
    assert pa.array(["a", "b", "c", "d"]).take(rows).to_pylist() == ["d", "a", "c"]
