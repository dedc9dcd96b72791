"""The jobs service: parametrised notebooks of ``notebooks/`` run with papermill as production jobs.

A hub-managed service (``/services/jobs/``) with a REST API under ``api/v1/``:

- :mod:`workbench.jobs.model` — the domain (pure): what a job is and how its fields are validated
  (name, segment, notebook path, papermill parameters, cron schedule, timeout);
- :mod:`workbench.jobs.access` — who may do what, by hub groups (a pure function of the caller);
- :mod:`workbench.jobs.store` — storage: jobs and runs under ``<state>/jobs/``, recovery after a crash;
- :mod:`workbench.jobs.runner` — the run queue: record folders, progress, outcome, report;
- :mod:`workbench.jobs.executors` — where and as whom a run's papermill and kernel execute (``local``,
  ``container``), with the start and run timeouts, cancel and the failure classes every executor shares;
- :mod:`workbench.jobs.reports` — what a run leaves for people: HTML report, progress, first error;
- :mod:`workbench.jobs.scraps` — how a notebook records values (``glue``) and how they are read back;
- :mod:`workbench.jobs.state` — what the API and the scheduler share (store, runner, policy, hub client);
- :mod:`workbench.jobs.api` — the HTTP interface (thin handlers, routes) and :mod:`workbench.jobs.pages`
  (its HTML, from Jinja2 templates in ``templates/``); :mod:`workbench.jobs.openapi` describes it;
- :mod:`workbench.jobs.scheduler` — cron schedules;
- :mod:`workbench.jobs.factory` — wiring from the settings, and recovery after a crash;
- :mod:`workbench.jobs.service` — the entry point the hub starts (``python -m workbench.jobs.service``);
- :mod:`workbench.jobs.hub` — ``configure_hub``: the managed service, its token and roles;
- :mod:`workbench.jobs.commands` — the ``workbench jobs …`` CLI (through :mod:`workbench.jobs.client`).

User documentation: ``docs/jobs.md``.
"""
