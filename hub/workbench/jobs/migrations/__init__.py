"""Alembic migrations of the jobs store; :func:`workbench.jobs.store.upgrade` applies them.

``versions/`` holds one file per revision: ``0001`` is the schema of the first release (created when
absent, left as it is in a store that release made), ``0002`` adds what production operation needs.
To add a revision: copy the newest file, set ``down_revision`` to its ``revision``, and extend
:mod:`workbench.jobs.tables` to match (``tests/workbench/jobs/test_store.py`` compares the two).
"""
