"""What the composition root hands every service: the store, the settings, the community, and
who acts when.

A service (sharing, incidents, tasks, evidence, bulletins, ingest…) is built by
``cirt.workspace.Workspace`` from a ``Context`` and the sibling services it uses, passed by name;
it never receives the Workspace, so it cannot reach a service it was not given.  Tests build a
``Context`` over a real store with a fixed clock and id factory.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cirt.config import Config, secret
from cirt.stixtime import Clock, IdFactory, new_id, utcnow
from cirt.store.sql import SQLStore

if TYPE_CHECKING:
    from cirt.community import Community


class Context:
    """The store, config.toml, sectors.yaml (read when first needed), the clock, the id factory
    and the analyst every change is recorded under."""

    def __init__(
        self,
        config: Config,
        store: SQLStore,
        *,
        clock: Clock = utcnow,
        ids: IdFactory = new_id,
        community: Callable[[], Community] | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.ids = ids
        self._load_community = community

    @cached_property
    def community(self) -> Community:
        if self._load_community is not None:
            return self._load_community()
        # start-up: commands that never read the community (``cirt incident list``) do not load
        # sectors.yaml's loader and schema (about 20 ms) nor read the file.
        from cirt.sectors_file import load_community

        return load_community(self.config.sectors_path, self.config.limits)

    @property
    def home(self) -> Path:
        return self.config.home

    @property
    def analyst(self) -> str:
        return self.config.analyst

    @property
    def identity(self) -> str:
        """The national CIRT's STIX identity: ``created_by_ref`` of everything we create."""
        return self.community.national.identity

    def secret(self, name: str) -> str | None:
        return secret(self.home, name)
