"""Reliability: faults injected into a real workbench (``faults/``) and fuzzed inputs (``fuzz/``).

The figures these tests measure, and the synthetic-user load figures of ``bench/synthetic_users.py``,
are in ``docs/reliability.md``.
"""
