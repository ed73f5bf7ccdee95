"""cirt: a terminal-first toolkit for a national CIRT.

Scripts use the library facade: ``from cirt import Workspace``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from cirt.workspace import Workspace

__all__ = ["Workspace", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Workspace":
        # start-up: `import cirt.gate` (or any core module) must not load the store and services
        from cirt.workspace import Workspace

        return Workspace
    raise AttributeError(name)
