"""Where the workspace lives and what it is configured with.

Precedence: defaults < ``<home>/config.toml`` < ``CIRT_*`` environment < command-line flags.
config.toml is validated as strictly as sectors.yaml: an unknown section or key, a wrong type or a
secret is an error naming the file, the line and the field.  Secrets never live in config.toml
or sectors.yaml: they come from the environment or ``<home>/secrets.toml`` and are printed
redacted.
"""

from __future__ import annotations

import difflib
import getpass
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from cirt.errors import ConfigError
from cirt.limits import ImportLimits
from cirt.tomlfile import LocatedToml, load_toml

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


Port = Annotated[int, Field(ge=1, le=65535)]


class _Section(BaseModel):
    """A table of config.toml: unknown keys and wrong types are errors, never ignored."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CirtSection(_Section):
    """``[cirt]``: who works here and where the community and playbooks are."""

    analyst: str | None = None
    timezone: str = "America/Belize"
    reference_prefix: str = "BZ"
    sectors_file: str | None = None
    playbooks_dir: str | None = None


class DatabaseSection(_Section):
    """``[database]``: the store's URL (default: SQLite ``cirt.db`` in the workspace)."""

    url: str | None = None


class SmtpConfig(_Section):
    """``[smtp]``: where bulletins are sent from; the password is a secret (smtp_password)."""

    host: str = "127.0.0.1"
    port: Port = 25
    starttls: bool = False
    username: str | None = None
    sender: str = "cirt@localhost"


class GpgSection(_Section):
    """``[gpg]``: the GnuPG home and the CIRT key's fingerprint (passphrase: gpg_passphrase)."""

    home: str | None = None
    key: str | None = None


class ImportSection(_Section):
    """``[import]``: the limits of every inbound document (``cirt.limits.ImportLimits``, whose
    defaults these are) and whether custom STIX objects are kept."""

    max_bytes: PositiveInt = ImportLimits.max_bytes
    max_objects: PositiveInt = ImportLimits.max_objects
    max_granular_markings: PositiveInt = ImportLimits.max_granular_markings
    max_selectors: PositiveInt = ImportLimits.max_selectors
    max_references: PositiveInt = ImportLimits.max_references
    max_pattern_length: PositiveInt = ImportLimits.max_pattern_length
    max_pattern_comparisons: PositiveInt = ImportLimits.max_pattern_comparisons
    allow_custom: bool = False


class IntakeSection(_Section):
    """``[intake]``: the public form's limits and the mailbox ``cirt intake imap`` reads
    (its password is a secret: intake_imap_password)."""

    rate_limit: PositiveInt = 5
    rate_window_minutes: PositiveInt = 10
    max_file_mb: PositiveInt = 5
    imap_host: str | None = None
    imap_port: Port | None = None
    imap_user: str | None = None
    imap_security: Literal["ssl", "starttls", "none"] = "ssl"
    imap_folder: str = "INBOX"


SECTIONS: dict[str, type[_Section]] = {
    "cirt": CirtSection,
    "database": DatabaseSection,
    "smtp": SmtpConfig,
    "gpg": GpgSection,
    "import": ImportSection,
    "intake": IntakeSection,
}
_SECRET_NAME = re.compile(r"pass(word|wd|phrase)|secret|token|credential|(^|_)api_?key$|_key$")


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
    allow_custom: bool = False
    gpg: GpgSection = field(default_factory=GpgSection)
    intake: IntakeSection = field(default_factory=IntakeSection)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def sectors_path(self) -> Path:
        return self.sectors_file or self.home / "sectors.yaml"

    @property
    def playbooks_path(self) -> Path:
        return self.playbooks_dir or self.home / "playbooks"


@dataclass(frozen=True)
class ConfigReading:
    """config.toml read as far as it can be: every problem, and the sections they spoil
    (those fall back to their defaults in ``config``, for ``cirt check`` to go on with)."""

    config: Config
    problems: list[ConfigError]
    broken: frozenset[str]


def load_config(home: Path) -> Config:
    """The workspace's settings; the first problem of config.toml is raised as a ConfigError."""
    reading = read_config(home)
    if reading.problems:
        raise reading.problems[0]
    return reading.config


def read_config(home: Path) -> ConfigReading:
    """Validate config.toml whole: unknown sections and keys, wrong types, secrets, each with
    its line; then apply defaults < config.toml < ``CIRT_*`` environment."""
    path = home / CONFIG_FILE
    try:
        doc = load_toml(path) if path.exists() else LocatedToml(str(path), {})
    except ConfigError as exc:
        return ConfigReading(_settings(home, {}, {}), [exc], frozenset(SECTIONS))
    problems: list[ConfigError] = []
    sections: dict[str, _Section] = {}
    for name, value in doc.data.items():
        found = _secrets(doc, (name,), value, home)
        if found:
            problems += found
        elif name not in SECTIONS:
            problems.append(doc.error((name,), _unknown(name, SECTIONS, "section")))
        elif not isinstance(value, dict):
            problems.append(doc.error((name,), f"must be a table ([{name}])"))
        else:
            try:
                sections[name] = SECTIONS[name].model_validate(value)
            except ValidationError as exc:
                problems += [
                    doc.error((name, *map(str, error["loc"])), _reason(error, SECTIONS[name]))
                    for error in exc.errors()
                ]
    problems.sort(key=lambda problem: problem.line or 0)
    broken = frozenset(name for name in SECTIONS if name in doc.data and name not in sections)
    return ConfigReading(_settings(home, sections, doc.data), problems, broken)


def _settings(home: Path, sections: dict[str, Any], raw: dict[str, Any]) -> Config:
    cirt = sections.get("cirt") or CirtSection()
    imported = sections.get("import") or ImportSection()
    env = os.environ
    sectors = env.get("CIRT_SECTORS") or cirt.sectors_file
    playbooks = env.get("CIRT_PLAYBOOKS") or cirt.playbooks_dir
    return Config(
        home=home,
        analyst=env.get("CIRT_ANALYST") or cirt.analyst or _login(),
        database_url=env.get("CIRT_DB_URL")
        or (sections.get("database") or DatabaseSection()).url
        or f"sqlite:///{home / DATABASE_FILE}",
        timezone=env.get("CIRT_TIMEZONE") or cirt.timezone,
        reference_prefix=cirt.reference_prefix,
        sectors_file=Path(sectors) if sectors else None,
        playbooks_dir=Path(playbooks) if playbooks else None,
        smtp=sections.get("smtp") or SmtpConfig(),
        limits=ImportLimits(**imported.model_dump(exclude={"allow_custom"})),
        allow_custom=imported.allow_custom,
        gpg=sections.get("gpg") or GpgSection(),
        intake=sections.get("intake") or IntakeSection(),
        raw=raw,
    )


def _secrets(doc: LocatedToml, loc: tuple[str, ...], value: Any, home: Path) -> list[ConfigError]:
    """A password, passphrase, token or key written into config.toml: say where it belongs."""
    if isinstance(value, dict):
        return [
            problem for key, inner in value.items() for problem in _secrets(doc, (*loc, key), inner, home)
        ]
    if not _SECRET_NAME.search(loc[-1].lower()):
        return []
    name = "_".join(loc).lower().replace("-", "_").replace(".", "_")
    return [
        doc.error(
            loc,
            f"secrets do not belong in config.toml: set CIRT_{name.upper()} or "
            f"{name} in {home / SECRETS_FILE}",
        )
    ]


def _unknown(name: str, known: Iterable[str], what: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean '{close[0]}'?" if close else "known: " + ", ".join(known)
    return f"unknown {what} ({hint})"


def _reason(error: Any, model: type[_Section]) -> str:
    """A pydantic error in the words of a person editing the file."""
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown(str(error["loc"][-1]), model.model_fields, "key")
    expected = {
        "int_type": "a whole number",
        "string_type": "text in quotes",
        "bool_type": "true or false",
        "greater_than": f"greater than {ctx.get('gt')}",
        "greater_than_equal": f"at least {ctx.get('ge')}",
        "less_than_equal": f"at most {ctx.get('le')}",
        "literal_error": f"one of {ctx.get('expected')}",
    }.get(kind)
    if expected is None:
        return str(error["msg"])
    return f"must be {expected}, not {_toml_value(value)}"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return str(value)


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
    value: Any = load_toml(path).data
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
