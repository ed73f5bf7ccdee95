"""``cirt check``: every problem in a workspace's configuration reported at once.

Each part (config.toml, the time zone, sectors.yaml, every playbook, the database) is checked on
its own, so one broken file does not hide the next: the analyst fixes them all in one go.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cirt.bounded_http import is_loopback_url
from cirt.config import CONFIG_FILE, read_config
from cirt.errors import CirtError, WorkspaceMissing
from cirt.playbook_files import load_library
from cirt.sectors_file import load_community
from cirt.stixtime import time_zone
from cirt.store.database import redact_url
from cirt.store.engines import open_store

if TYPE_CHECKING:
    from cirt.community import Community
    from cirt.store.sql import SQLStore


@dataclass(frozen=True)
class Finding:
    area: str
    ok: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"area": self.area, "ok": self.ok, "message": self.message}


def check_workspace(home: Path) -> list[Finding]:
    if not (home / CONFIG_FILE).exists():
        return [Finding("workspace", False, str(WorkspaceMissing(str(home))))]
    reading = read_config(home)
    config = reading.config
    findings = [Finding("config", False, str(problem)) for problem in reading.problems]
    if not reading.problems:
        findings.append(Finding("config", True, f"{home / CONFIG_FILE}: valid"))
    if "cirt" in reading.broken:  # where sectors.yaml and the playbooks are is not known
        return findings
    try:
        findings.append(Finding("timezone", True, time_zone(config.timezone).key))
    except CirtError as exc:
        findings.append(Finding("timezone", False, str(exc)))
    parties: list[str] | None = None
    organisations: list[str] | None = None
    try:
        community = load_community(config.sectors_path, config.limits)
        parties = [community.national.id, *community.organisations, *community.partners]
        organisations = list(community.organisations)
        findings.append(
            Finding(
                "sectors",
                True,
                f"{config.sectors_path}: "
                f"{len(community.organisations)} organisations, "
                f"{len(community.partners)} partners",
            )
        )
        findings += _transport_findings(community)
    except CirtError as exc:
        findings.append(Finding("sectors", False, str(exc)))
    library = load_library(config.playbooks_path, parties=parties, organisations=organisations)
    findings.append(
        Finding(
            "playbooks",
            not library.errors,
            f"{library.folder}: {len(library.playbooks)} valid, {len(library.errors)} broken",
        )
    )
    findings += [Finding("playbooks", False, str(error)) for error in library.errors]
    if "database" in reading.broken:  # never open a store the configuration does not name
        return findings
    try:
        store = open_store(config.database_url)
        try:
            findings += _database_findings(store, redact_url(config.database_url))
        finally:
            store.close()
    except CirtError as exc:
        findings.append(Finding("database", False, str(exc)))
    return findings


def _transport_findings(community: Community) -> list[Finding]:
    """Plain HTTP carries a partner's password in clear: allowed to another machine only with
    ``insecure: true``, and reported even then."""
    findings = []
    for partner in community.partners.values():
        if partner.taxii is None:
            continue
        for url in dict.fromkeys((partner.taxii.discovery, partner.taxii.api_root)):
            if not url.startswith("http://") or is_loopback_url(url):
                continue
            if partner.taxii.insecure:
                findings.append(
                    Finding(
                        "sectors",
                        False,
                        f"partner {partner.id}: insecure: true sends its TAXII password in clear to {url}",
                    )
                )
            else:
                findings.append(
                    Finding(
                        "sectors",
                        False,
                        f"partner {partner.id}: {url} is plain"
                        " HTTP to another machine: use https (or set insecure:"
                        " true, knowing the password travels in clear)",
                    )
                )
    return findings


def _database_findings(store: SQLStore, where: str) -> list[Finding]:
    """Schema version, the engine's integrity check, and whether it can be written at all."""
    pending = store.pending_migrations()
    note = f", {len(pending)} migration(s) pending (cirt db migrate)" if pending else ""
    findings = [Finding("database", True, f"{where}: schema {store.schema_version()}{note}")]
    problems = store.db.integrity_problems()
    if problems:
        shown = "; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        findings.append(
            Finding(
                "database",
                False,
                f"{where}: integrity check failed: {shown}; restore the last backup (the file is damaged)",
            )
        )
    else:
        findings.append(Finding("database", True, f"{where}: integrity check passed"))
    if store.db.read_only:
        findings.append(
            Finding(
                "database",
                False,
                f"{where}: can only be read: {store.db.read_only} (commands that write will fail)",
            )
        )
    return findings
