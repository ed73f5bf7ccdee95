"""``cirt taxii serve`` compiles the validators and loads the gate before its workers fork, so
the first read and the first post of each worker do not pay for them."""

from __future__ import annotations

import subprocess
import sys


def test_preload_leaves_the_gate_and_compiled_validators_in_the_process() -> None:
    code = (
        "import sys\n"
        "from cirt.servers.taxii_serving import preload\n"
        "assert 'cirt.ingest' not in sys.modules and 'cirt.gate' not in sys.modules\n"
        "preload()\n"
        "from cirt.stix_validation import schemas\n"
        "assert {'cirt.gate', 'cirt.sharing', 'cirt.ingest'} <= set(sys.modules)\n"
        "assert schemas.cache_info().currsize == 1\n"
        "schemas(False)\n"
        "assert schemas.cache_info().hits == 1  # what validate_objects asks for: no recompile\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
