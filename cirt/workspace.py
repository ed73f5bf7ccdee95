"""The library facade: everything the CLI does, a script can do through ``Workspace``.

from cirt import Workspace
with Workspace.open() as ws:
    incident = ws.incidents.open(title="…", category="phishing", severity="high",
                                 organisations=["cbb"])
"""

from __future__ import annotations

import json
import os
import re
import shutil
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from cirt.config import (
    CONFIG_FILE,
    Config,
    load_config,
    resolve_home,
    shipped_path,
    write_default_config,
)
from cirt.context import Context
from cirt.errors import InvalidValue, WorkspaceMissing
from cirt.stixtime import Clock, IdFactory, new_id, utcnow
from cirt.store.engines import open_store
from cirt.store.sql import SQLStore

if TYPE_CHECKING:
    from cirt.audit import DisclosureLog
    from cirt.bulletin import Bulletins
    from cirt.community import Community
    from cirt.evidence import EvidenceLocker
    from cirt.incident_desk import IncidentDesk
    from cirt.incident_records import IncidentRecords
    from cirt.indicator_desk import IndicatorDesk
    from cirt.intake.desk import IntakeDesk
    from cirt.misp_exchange import MispExchange
    from cirt.route_desk import RouteDesk
    from cirt.sharing import Sharing
    from cirt.tasks import TaskService
    from cirt.taxii.client import TaxiiExchange


class Workspace:
    def __init__(
        self, config: Config, store: SQLStore, *, clock: Clock = utcnow, ids: IdFactory = new_id
    ) -> None:
        self.context = Context(config, store, clock=clock, ids=ids)
        self.config = config
        self.store = store
        self.clock = clock
        self.ids = ids

    @classmethod
    def open(
        cls, home: str | Path | None = None, *, clock: Clock = utcnow, ids: IdFactory = new_id
    ) -> Workspace:
        """Open an existing workspace; its schema is brought up to date first."""
        path = resolve_home(home)
        if not (path / CONFIG_FILE).exists():
            raise WorkspaceMissing(str(path))
        config = load_config(path)
        store = open_store(config.database_url, clock=clock)
        if store.pending_migrations():
            store.migrate()
        return cls(config, store, clock=clock, ids=ids)

    @classmethod
    def init(
        cls,
        home: str | Path | None = None,
        *,
        database_url: str | None = None,
        clock: Clock = utcnow,
        ids: IdFactory = new_id,
        analyst: str | None = None,
    ) -> Workspace:
        """Create (or re-open) a workspace with the shipped sectors.yaml and playbooks;
        ``analyst`` is the name every change made from it is recorded under."""
        path = resolve_home(home)
        path.mkdir(parents=True, exist_ok=True)
        if not (path / CONFIG_FILE).exists():
            write_default_config(path, database_url)
        if analyst is not None:
            set_analyst(path / CONFIG_FILE, analyst)
        if not (path / "sectors.yaml").exists():
            shutil.copyfile(shipped_path("sectors.yaml"), path / "sectors.yaml")
        if not (path / "playbooks").exists() and shipped_path("playbooks").is_dir():
            shutil.copytree(shipped_path("playbooks"), path / "playbooks")
        return cls.open(path, clock=clock, ids=ids)

    @property
    def home(self) -> Path:
        return self.context.home

    @property
    def analyst(self) -> str:
        return self.context.analyst

    @property
    def analyst_configured(self) -> bool:
        """Whether the analyst's name was given (config.toml or CIRT_ANALYST), not guessed
        from the Unix user."""
        return bool(os.environ.get("CIRT_ANALYST") or self.config.raw.get("cirt", {}).get("analyst"))

    @property
    def community(self) -> Community:
        return self.context.community

    @property
    def identity(self) -> str:
        """The national CIRT's STIX identity: ``created_by_ref`` of everything we create."""
        return self.context.identity

    # Each service's module is imported when the service is first used (start-up: a command
    # loads only what it uses; benchmarks/deferred_imports.py measures each of these imports).
    @cached_property
    def incidents(self) -> IncidentDesk:
        from cirt.incident_desk import IncidentDesk

        return IncidentDesk(
            self.context, records=self.incident_records, tasks=self.tasks, evidence=self.evidence
        )

    @cached_property
    def incident_records(self) -> IncidentRecords:
        from cirt.incident_records import IncidentRecords

        return IncidentRecords(self.context)

    @cached_property
    def indicators(self) -> IndicatorDesk:
        from cirt.indicator_desk import IndicatorDesk

        return IndicatorDesk(self.context, incidents=self.incidents)

    @cached_property
    def audit(self) -> DisclosureLog:
        from cirt.audit import DisclosureLog
        from cirt.openpgp import OpenPGP, gpg_settings

        return DisclosureLog(
            self.context, lambda: OpenPGP(gpg_settings(self.config.gpg, self.secret("gpg_passphrase")))
        )

    @cached_property
    def sharing(self) -> Sharing:
        from cirt.sharing import Sharing

        return Sharing(self.context, disclosures=self.audit, incidents=self.incidents, tasks=self.tasks)

    @cached_property
    def bulletins(self) -> Bulletins:
        from cirt.bulletin import Bulletins

        return Bulletins(self.context, sharing=self.sharing, tasks=self.tasks)

    @cached_property
    def tasks(self) -> TaskService:
        from cirt.tasks import TaskService

        return TaskService(self.context, records=self.incident_records)

    @cached_property
    def intake(self) -> IntakeDesk:
        from cirt.intake.desk import IntakeDesk

        return IntakeDesk(self.context, incidents=self.incidents, evidence=self.evidence)

    @cached_property
    def routes(self) -> RouteDesk:
        from cirt.route_desk import RouteDesk

        return RouteDesk(self.context, sharing=self.sharing, bulletins=self.bulletins)

    @cached_property
    def evidence(self) -> EvidenceLocker:
        from cirt.evidence import EvidenceLocker

        return EvidenceLocker(self.context, records=self.incident_records)

    @cached_property
    def misp(self) -> MispExchange:
        from cirt.misp_exchange import MispExchange

        return MispExchange(self.context, sharing=self.sharing, incidents=self.incidents)

    @cached_property
    def taxii(self) -> TaxiiExchange:
        from cirt.taxii.client import TaxiiExchange

        return TaxiiExchange(self.context, sharing=self.sharing, incidents=self.incidents)

    def secret(self, name: str) -> str | None:
        return self.context.secret(name)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def set_analyst(config_file: Path, name: str) -> None:
    """Write ``analyst = "name"`` into the ``[cirt]`` section of config.toml (replacing one)."""
    clean = " ".join(name.split())
    if not clean or any(ord(c) < 32 for c in name.strip()):
        raise InvalidValue("an analyst's name is printable text, e.g. --analyst 'Maria Chan'")
    line = f"analyst = {json.dumps(clean, ensure_ascii=False)}"
    text = config_file.read_text(encoding="utf-8")
    if re.search(r"(?m)^analyst\s*=.*$", text):
        text = re.sub(r"(?m)^analyst\s*=.*$", lambda _: line, text, count=1)
    elif re.search(r"(?m)^\[cirt\]\s*$", text):
        text = re.sub(r"(?m)^\[cirt\]\s*$", lambda m: m.group(0) + "\n" + line, text, count=1)
    else:
        text = f"[cirt]\n{line}\n\n" + text
    config_file.write_text(text, encoding="utf-8")
