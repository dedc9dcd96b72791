"""Paths inside the data folder, for notebooks and tools that take a path from a user.

A production notebook declares a parameter that names data with the :class:`DataPath` annotation::

    from s2p import DataPath
    cdm_folder: DataPath = "space_debris/cdm/nasa_cara"  # folder of CDMs, relative to the data folder

The jobs service reads that annotation and refuses, before the run starts, a value that is absolute,
holds ``..`` or leads outside the data folder (through a symbolic link too). The notebook resolves
the value with :func:`data_path`, which applies the same rule again where the code runs.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from s2p import _paths
from s2p.errors import DataNotFoundError, S2PError


class DataPath(str):
    """Annotation of a notebook parameter that names a file or folder relative to the data folder."""

    __slots__ = ()


class DataPathError(S2PError, ValueError):
    """A path given for the data folder is absolute, climbs out of it, or is not a path at all."""


def check_relative(value: object, name: str = "path") -> PurePosixPath:
    """``value`` as a relative POSIX path that stays below its root; no file system access.

    Raises
    ------
    DataPathError
        For a non-string, an empty string, an absolute path, ``~``, a backslash, a NUL byte or ``..``.
    """
    if not isinstance(value, str) or not value.strip():
        raise DataPathError(f"{name}: give a path relative to the data folder, e.g. space_weather/kp.txt")
    if "\x00" in value or "\\" in value:
        raise DataPathError(f"{name} {value!r}: backslashes and NUL bytes are not allowed")
    rel = PurePosixPath(value)
    if rel.is_absolute() or value.startswith("~"):
        raise DataPathError(f"{name} {value!r}: must be relative to the data folder, not absolute")
    if ".." in rel.parts:
        raise DataPathError(f"{name} {value!r}: '..' is not allowed")
    return rel


def data_path(value: str, *, root: Path | None = None, must_exist: bool = True, name: str = "path") -> Path:
    """The file or folder ``value`` names below the data folder.

    Parameters
    ----------
    value
        A relative POSIX path such as ``"space_debris/cdm/nasa_cara"``.
    root
        The data folder (default: ``WORKBENCH_DATA_DIR``, else the shipped ``data/``, else ``/data``).
    must_exist
        Raise :class:`~s2p.DataNotFoundError` when nothing is there.
    name
        The parameter's name, used in error messages.

    Raises
    ------
    DataPathError
        When ``value`` is absolute, holds ``..``, or resolves (symbolic links followed) outside ``root``.
    DataNotFoundError
        When ``must_exist`` and nothing exists at the path.
    """
    rel = check_relative(value, name)
    base = (root if root is not None else _paths.data_dir()).resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise DataPathError(f"{name} {value!r}: leads outside the data folder")
    if must_exist and not path.exists():
        raise DataNotFoundError(f"{name} {value!r}: nothing at {rel} in the data folder")
    return path
