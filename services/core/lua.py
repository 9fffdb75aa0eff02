"""Lua sources shipped as package data (`<package>/lua/<name>.lua`)."""

from __future__ import annotations

from importlib import resources


def lua_source(package: str, *names: str) -> str:
    """The named files of the package's lua/ folder, in order, as one script."""
    folder = resources.files(package) / "lua"
    return "\n".join((folder / f"{name}.lua").read_text() for name in names)
