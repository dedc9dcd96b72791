"""The jobs service: parametrised notebooks of ``notebooks/`` run with papermill as production jobs.

A hub-managed service (``/services/jobs/``) with a REST API under ``api/v1/``:

- :mod:`workbench.jobs.model` — what a job is and how its fields are validated (name, segment,
  notebook path, papermill parameters, cron schedule, timeout);
- :mod:`workbench.jobs.store` — jobs and runs in SQLite under ``<state>/jobs/``, recovery after a crash;
- :mod:`workbench.jobs.runner` — the queue that runs papermill in its own process group, with timeout,
  cancel, progress, HTML report and scraps;
- :mod:`workbench.jobs.service` — the Tornado application, hub authentication and segment access;
- :mod:`workbench.jobs.scraps` — how a notebook records values (``glue``) and how they are read back;
- :mod:`workbench.jobs.hub` — ``configure_hub``: the managed service, its token and roles;
- :mod:`workbench.jobs.commands` — the ``workbench jobs …`` CLI (through :mod:`workbench.jobs.client`).

User documentation: ``docs/jobs.md``.
"""
