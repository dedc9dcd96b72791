"""Security tests: who can send what to which process, tried end to end against real workbenches.

- ``test_authorization_matrix.py``: every role against every route of the hub's services (the jobs
  API and page, each tool's page, kernel websocket and Voila's other paths, the home page's list),
  the expected answer of each cell in one readable table;
- ``test_tool_kernels.py``: a published tool's visitors against its kernel (local spawner, the
  gateway's message filter on, the sandbox of local tools), the security headers and escaping of pages;
- ``test_tool_containers.py``: the same with the Docker spawner and the filter off: the tool's
  container holds nothing worth taking;
- ``test_production_settings.py``: ``WORKBENCH_ENV=ope`` refuses settings that share the hub's identity.

``conftest.py`` starts the package's one local workbench; ``tools.py`` writes the test-only tools;
``visitor.py`` and ``attacks.py`` are what a visitor (a script) sends.
"""
