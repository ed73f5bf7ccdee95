"""One exception tree for the whole toolkit.

The CLI boundary (``cirt.cli.app``) turns every ``CirtError`` into one line and an exit code; nothing
else prints errors.  Each class names a condition, so tests can assert on the type and the text.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2


class CirtError(Exception):
    """Base of every error a user may see; ``str()`` is the one-line message."""

    exit_code: ExitCode = ExitCode.FAILURE


class UsageError(CirtError):
    """The command line itself is wrong (unknown choice, missing option)."""

    exit_code = ExitCode.USAGE


class ConfigError(CirtError):
    """A configuration file (sectors.yaml, config.toml, a playbook) is invalid."""

    def __init__(self, path: str, line: int | None, field: str, reason: str) -> None:
        self.path, self.line, self.field, self.reason = path, line, field, reason
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: {field}: {reason}")


class WorkspaceMissing(CirtError):
    """No workspace at the resolved home; tell the analyst how to create one."""

    def __init__(self, home: str) -> None:
        self.home = home
        super().__init__(f"no cirt workspace at {home}: run 'cirt init' (or set CIRT_HOME / --home)")


class StoreLocked(CirtError):
    """Another process holds the database lock for longer than the busy timeout."""


class StoreError(CirtError):
    """The database refused an operation (corrupt file, failed migration)."""


class StoreUnavailable(StoreError):
    """The database server cannot be reached (down, restarting): try again later."""


class NotFound(CirtError):
    """An incident, object, organisation or contact that does not exist."""


class InvalidValue(CirtError):
    """A value outside its vocabulary: a TLP name, a severity, a category, a pattern."""


class ConflictError(CirtError):
    """Someone else changed the object since it was read; re-read and retry."""


class SharingDenied(CirtError):
    """The gate refused a release that the caller insisted on."""

    def __init__(self, object_id: str, tlp: str, recipient: str, reason: str) -> None:
        self.object_id, self.tlp, self.recipient, self.reason = object_id, tlp, recipient, reason
        super().__init__(f"{object_id} ({tlp}) withheld from {recipient}: {reason}")


class RemoteError(CirtError):
    """A peer (TAXII server, MISP, SMTP) failed or answered something we cannot use."""


class InputRejected(CirtError):
    """A file or bundle from outside is unusable as a whole (bad JSON, too deep, too big)."""
