"""Keep numba's on-disk cache honest across modules (private).

numba keys a cached function on the source file that defines it, not on the functions it inlines or
calls from other modules: after an edit of ``_sgp4_fast.py`` the cached ``_sgp4_kernels`` entry points
would still run the old code. :func:`drop_stale` is called at import by a module whose kernels depend on
others; when the dependencies' sources changed since its cache was written, it removes that module's
cache files so numba recompiles them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def drop_stale(module_file: str, *dependencies: str) -> None:
    """Delete ``module_file``'s numba cache files if any of ``dependencies`` (file names) changed."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return  # a relocated cache is the user's to manage
    here = Path(module_file).resolve()
    try:
        digest = hashlib.sha256(b"".join((here.parent / d).read_bytes() for d in dependencies)).hexdigest()[
            :20
        ]
        cache = here.parent / "__pycache__"
        stamp = cache / f"{here.stem}.deps"
        if stamp.is_file() and stamp.read_text() == digest:
            return
        for f in cache.glob(f"{here.stem}.*.nb[ic]"):
            f.unlink()
        cache.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        pass  # read-only installation: numba cannot cache there either
