"""Published Voila tools: ``voila-apps/<name>/`` served by the hub at ``/services/<name>/``.

- :mod:`~workbench.apps.spec` reads and validates ``app.yaml``;
- :mod:`~workbench.apps.hub` adds one hub-managed service per tool and decides how its Voila runs;
  :mod:`~workbench.apps.handover` carries both to the service;
- :mod:`~workbench.apps.gateway` is that service's entry point: :mod:`~workbench.apps.policy` (who may
  open the tool, pure), :mod:`~workbench.apps.gatekeeper` (the policy over HTTP, headers, error
  pages of :mod:`~workbench.apps.pages`), :mod:`~workbench.apps.http_proxy` and
  :mod:`~workbench.apps.ws_proxy` (the kernel websocket, through the filter of
  :mod:`~workbench.apps.messages`);
- :mod:`~workbench.apps.voila` configures the Voila server behind it, run by
  :mod:`~workbench.apps.launch_local` (a process; its own uid when the hub is root) or
  :mod:`~workbench.apps.launch_container` (a container of the lab image).

See ``docs/apps.md`` and ``docs/security.md``.
"""
