"""S2P Workbench platform: settings, auth, spawners, jobs, apps and the `workbench` CLI."""

__version__ = "0.1.0"
