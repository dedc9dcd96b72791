"""Top-level commands of the ``workbench`` CLI (each module exposes ``register``)."""
