"""Moved to :mod:`s2p._numba_cache` (shared by the debris and neo kernels); kept for old imports."""

from s2p._numba_cache import drop_stale

__all__ = ["drop_stale"]
