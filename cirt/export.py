"""``cirt export``: a STIX 2.1 bundle written to a file (or standard output) from a disclosure.

There is no export outside the gate: a bundle for a recipient is what ``sharing`` released
to it, and the analyst's own full copy is an explicit release to the national CIRT's archive
(recipient ``archive:<national id>``).  Either way the disclosure log holds it, written before
the bundle is, with delivery ``file``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cirt.context import Context
    from cirt.sharing import Disclosure, Sharing

ARCHIVE = "archive"


@dataclass(frozen=True)
class Exported:
    """The bundle to write, and the disclosure it came from."""

    bundle: dict[str, Any]
    disclosure: Disclosure

    @property
    def text(self) -> str:
        return json.dumps(self.bundle, indent=2, ensure_ascii=False) + "\n"

    def summary(self, where: str) -> dict[str, Any]:
        recipient = self.disclosure.recipient.key
        return {
            "file": where,
            "recipient": recipient,
            "objects": len(self.bundle.get("objects", [])),
            "withheld": len(self.disclosure.withheld),
            "logged": self.disclosure.entry.seq if self.disclosure.entry else None,
        }


def export(
    context: Context, sharing: Sharing, recipient: str | None = None, incident_ref: str | None = None
) -> Exported:
    """Release everything (or one incident with what is attached to it) to ``recipient``, or to
    the national CIRT's own archive when none is named, and make the bundle."""
    disclosure = sharing.export_release(recipient or ARCHIVE, incident_ref)
    return Exported(disclosure.bundle(context.ids("bundle")), disclosure)
