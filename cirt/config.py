"""Where the workspace lives and what it is configured with.

Precedence: defaults < ``<home>/config.toml`` < ``CIRT_*`` environment < command-line flags.
Secrets never live in config.toml or sectors.yaml: they come from the environment or
``<home>/secrets.toml`` and are printed redacted.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cirt.errors import ConfigError

CONFIG_FILE = "config.toml"
SECRETS_FILE = "secrets.toml"
DATABASE_FILE = "cirt.db"


def resolve_home(flag: str | Path | None = None) -> Path:
    """--home, else CIRT_HOME, else $XDG_DATA_HOME/cirt, else ~/.local/share/cirt."""
    if flag:
        return Path(flag).expanduser()
    if os.environ.get("CIRT_HOME"):
        return Path(os.environ["CIRT_HOME"]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "cirt"


def shipped_path(name: str) -> Path:
    """A data file that ships with cirt (sectors.yaml, playbooks/): wheel data or the source tree."""
    packaged = Path(__file__).parent / "data" / name
    if packaged.exists():
        return packaged
    return Path(__file__).resolve().parent.parent / name


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    username: str | None = None
    sender: str = "cirt@localhost"


@dataclass(frozen=True)
class ImportLimits:
    """What one inbound document may hold, checked before the work it causes grows.

    Every inbound path (``cirt import``, the TAXII inbox, TAXII and MISP pulls, MISP feeds) is
    held to the same limits, set in config.toml ``[import]``.  The defaults admit the largest
    public STIX sets (MITRE ATT&CK enterprise: about 50 MB, 25,000 objects, collection objects
    with 20,000 references) with room to spare.
    """

    max_bytes: int = 256 * 1024 * 1024
    max_objects: int = 1_000_000
    max_granular_markings: int = 1_000
    max_selectors: int = 10_000
    max_references: int = 100_000
    max_pattern_length: int = 65_536
    max_pattern_comparisons: int = 1_000

    @classmethod
    def from_settings(cls, section: Any, where: str) -> ImportLimits:
        """The ``[import]`` section of config.toml; a bad value is a ConfigError naming it."""
        if not isinstance(section, dict):
            return cls()
        values: dict[str, int] = {}
        for name in cls.__dataclass_fields__:
            if name not in section:
                continue
            value = section[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(where, None, f"import.{name}",
                                  f"{value!r} is not a positive whole number")
            values[name] = value
        return cls(**values)


@dataclass(frozen=True)
class Config:
    home: Path
    analyst: str
    database_url: str
    timezone: str = "America/Belize"
    reference_prefix: str = "BZ"
    sectors_file: Path | None = None
    playbooks_dir: Path | None = None
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    limits: ImportLimits = field(default_factory=ImportLimits)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def sectors_path(self) -> Path:
        return self.sectors_file or self.home / "sectors.yaml"

    @property
    def playbooks_path(self) -> Path:
        return self.playbooks_dir or self.home / "playbooks"


def load_config(home: Path) -> Config:
    path = home / CONFIG_FILE
    data: dict[str, Any] = {}
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(str(path), None, "(syntax)", str(exc)) from None
    section = data.get("cirt", {})
    smtp = data.get("smtp", {})
    env = os.environ
    try:
        smtp_config = SmtpConfig(
            host=str(smtp.get("host", "127.0.0.1")),
            port=int(smtp.get("port", 25)),
            starttls=bool(smtp.get("starttls", False)),
            username=smtp.get("username"),
            sender=str(smtp.get("sender", "cirt@localhost")),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(path), None, "smtp", str(exc)) from None
    sectors = env.get("CIRT_SECTORS") or section.get("sectors_file")
    playbooks = env.get("CIRT_PLAYBOOKS") or section.get("playbooks_dir")
    return Config(
        home=home,
        analyst=env.get("CIRT_ANALYST") or section.get("analyst") or _login(),
        database_url=env.get("CIRT_DB_URL") or data.get("database", {}).get("url")
        or f"sqlite:///{home / DATABASE_FILE}",
        timezone=env.get("CIRT_TIMEZONE") or section.get("timezone", "America/Belize"),
        reference_prefix=section.get("reference_prefix", "BZ"),
        sectors_file=Path(sectors) if sectors else None,
        playbooks_dir=Path(playbooks) if playbooks else None,
        smtp=smtp_config,
        limits=ImportLimits.from_settings(data.get("import", {}), str(path)),
        raw=data,
    )


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "analyst"


def secret(home: Path, name: str) -> str | None:
    """A credential from ``CIRT_<NAME>`` or ``<home>/secrets.toml`` (``name = "…"``), else None."""
    env_name = "CIRT_" + name.upper().replace("-", "_").replace(".", "_")
    if os.environ.get(env_name):
        return os.environ[env_name]
    path = home / SECRETS_FILE
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), None, "(syntax)", str(exc)) from None
    value = data
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return str(value) if not isinstance(value, dict) else None


def redact(value: str | None) -> str:
    return "(unset)" if not value else value[:2] + "…" + "(redacted)"


def write_default_config(home: Path, database_url: str | None) -> Path:
    path = home / CONFIG_FILE
    lines = [
        "# cirt workspace configuration. Secrets go in secrets.toml or CIRT_* variables.",
        "[cirt]",
        'timezone = "America/Belize"',
        'reference_prefix = "BZ"',
        "",
        "[database]",
        f'url = "{database_url}"' if database_url else f'# url = "sqlite:///{home / DATABASE_FILE}"',
        "",
        "[smtp]",
        'host = "127.0.0.1"',
        "port = 25",
        "starttls = false",
        'sender = "cirt@localhost"',
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
