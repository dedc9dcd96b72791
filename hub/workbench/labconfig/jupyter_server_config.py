# Jupyter Server configuration of every lab (local labs: on JUPYTER_CONFIG_PATH; the lab image: /etc/jupyter).
# A full disk must not break a user's files nor stop them from opening their notebooks: workbench.labstorage.
# Read before the server imports its extensions: workbench.labstart leaves out start-up work a lab never needs.
try:
    from workbench.labstart import quick_start
    from workbench.labstorage import WorkbenchContentsManager, resilient_store
except ImportError:  # a lab without the workbench package keeps Jupyter's defaults
    pass
else:
    quick_start()
    c.ServerApp.contents_manager_class = WorkbenchContentsManager  # type: ignore[name-defined]  # noqa: F821
    c.NotebookNotary.store_factory = resilient_store  # type: ignore[name-defined]  # noqa: F821

# Offline sites: the extension manager lists what is installed and never asks PyPI for more (labs are
# managed by the image; users install packages with pip in their home, not lab extensions).
c.LabApp.extension_manager = "readonly"  # type: ignore[name-defined]  # noqa: F821
