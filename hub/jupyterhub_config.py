"""JupyterHub configuration of the S2P Workbench: thin on purpose.

Everything comes from ``WORKBENCH_*`` variables through :mod:`workbench.settings`; the logic lives in
:mod:`workbench.hubconfig`. Run it with ``workbench up`` (or ``jupyterhub -f hub/jupyterhub_config.py``).
"""

import sys

from workbench.hubconfig import HubConfigError, configure
from workbench.settings import Settings, SettingsError

c = get_config()  # type: ignore[name-defined]  # noqa: F821 - injected by JupyterHub

try:
    configure(c, Settings.from_env())
except (SettingsError, HubConfigError) as exc:
    # One clear message instead of a traceback; nothing has been started yet.
    sys.exit(f"workbench: {exc}")
