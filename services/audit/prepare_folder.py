"""The page memo's folder as `casestream prepare-replay` uses it: one run at a time, and what a run
that was killed left behind removed.

* *One run at a time.* A run holds an exclusive lock (`flock`) on `prepare.lock` in the memo's folder
  while it makes checkpoints; another run on the same folder (a timer's beside `--every`'s, say) is
  refused (`Busy`) rather than making the same month ends twice. The lock goes with the process, so a
  run that was killed leaves none.
* *Leftovers.* A run writes its manifest as `.prepare-<id>.manifest` and each checkpoint through a
  `.new-<id>` folder (`Checkpoints.save`), both removed when it ends; a killed run (SIGKILL, power)
  leaves them. The next run removes those not written to for `STALE_AFTER` seconds: a running
  prepare appends to its manifest all the time, and a `.new-` folder lives for the seconds a
  checkpoint takes to write.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

LOCK: Final = "prepare.lock"
STALE_AFTER: Final = 3600.0  # seconds since a leftover was last written
log = logging.getLogger(__name__)


class Busy(RuntimeError):
    """Another prepare-replay holds the memo folder's lock."""


@contextmanager
def exclusive(memo: Path) -> Iterator[None]:
    """Hold the memo folder's prepare lock for the block; `Busy` if another process holds it."""
    memo.mkdir(parents=True, exist_ok=True)
    with open(memo / LOCK, "ab") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(f"another prepare-replay is running on {memo} (it holds {memo / LOCK}); "
                       "nothing done") from None
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def sweep(folder: Path, now: float | None = None) -> list[Path]:
    """Remove the leftovers of killed runs in a checkpoint folder (module docstring); what was removed."""
    now = time.time() if now is None else now
    gone = []
    for path in [*folder.glob(".prepare-*.manifest"), *folder.glob(".new-*")]:
        try:
            if now - path.lstat().st_mtime < STALE_AFTER:
                continue
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as exc:
            log.warning("prepare-replay: cannot remove the leftover %s (%s)", path, exc)
            continue
        gone.append(path)
    return gone
