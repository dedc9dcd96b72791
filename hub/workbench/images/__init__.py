"""Container images of the workbench: how the lab image is built (``workbench images build``).

The recipe lives in ``images/`` at the project root (Dockerfile, pinned requirements, base recipe);
:mod:`workbench.images.build` turns it into an image with the machine's Docker engine, and
:mod:`workbench.images.commands` wires it into the ``workbench`` CLI.
"""
