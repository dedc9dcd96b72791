"""Published Voila tools: ``voila-apps/<name>/`` served by the hub at ``/services/<name>/``.

:mod:`~workbench.apps.spec` reads and validates ``app.yaml``; :mod:`~workbench.apps.hub` adds one
hub-managed service per tool; :mod:`~workbench.apps.gateway` is that service (access policy, proxy)
and :mod:`~workbench.apps.voila` the Voila server behind it. See ``docs/apps.md``.
"""
