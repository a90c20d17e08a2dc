"""Where tests put an embedded PostgreSQL of their own."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def embedded_data_dir() -> Iterator[Path]:
    """A data dir for an embedded PostgreSQL, outside pytest's tmp tree.

    As root, PostgreSQL runs as the `pgserver` user, which must traverse the path; pytest
    resets its own tmp root to 0700 whenever another pytest session starts.
    """
    path = Path(tempfile.mkdtemp(prefix="diemcau-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
