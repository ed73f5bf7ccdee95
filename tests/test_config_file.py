"""config.toml is held to the standard of sectors.yaml: every section and key the code reads is
declared with its type and default, and anything else (an unknown section, a misspelled key, a
wrong type, a secret, broken TOML) is one line naming the file, the line and the field, exit 1,
with the store as it was."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cirt.config import (
    SECTIONS,
    GpgSection,
    IntakeSection,
    SmtpConfig,
    load_config,
    read_config,
)
from cirt.errors import ConfigError
from cirt.limits import ImportLimits

INIT_CONFIG = """\
# cirt workspace configuration. Secrets go in secrets.toml or CIRT_* variables.
[cirt]
analyst = "Maria Chan"
timezone = "America/Belize"
reference_prefix = "BZ"

[smtp]
host = "127.0.0.1"
port = 25
starttls = false
sender = "cirt@localhost"
"""


def _cirt(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    found = shutil.which("cirt", path=str(Path(sys.executable).parent)) or shutil.which("cirt")
    assert found, "the cirt entry point is not installed (pip install -e .)"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CIRT_")}
    env |= {"CIRT_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run([found, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("config") / "ws"
    made = _cirt("init", "--analyst", "Maria Chan", home=home)
    assert made.returncode == 0, made.stderr
    (home / "config.toml").write_text(INIT_CONFIG, encoding="utf-8")
    opened = _cirt(
        "incident",
        "open",
        "--title",
        "Defacement",
        "--category",
        "application-compromise",
        "--severity",
        "high",
        "--sector",
        "btl",
        home=home,
    )
    assert opened.returncode == 0, opened.stderr
    return home


def _store(home: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(home.glob("cirt.db*"))
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            ("[smtp]", "[smpt]"),
            "config.toml:7: smpt: unknown section (did you mean 'smtp'?)",
            id="unknown section",
        ),
        pytest.param(
            ("port = 25", "prot = 25"),
            "config.toml:9: smtp.prot: unknown key (did you mean 'port'?)",
            id="typo'd key",
        ),
        pytest.param(
            ("port = 25", 'port = "25"'),
            'config.toml:9: smtp.port: must be a whole number, not "25"',
            id="wrong type",
        ),
        pytest.param(
            ("starttls = false", 'starttls = "no"'),
            'config.toml:10: smtp.starttls: must be true or false, not "no"',
            id="not a bool",
        ),
        pytest.param(
            ("port = 25", "port = 70000"),
            "config.toml:9: smtp.port: must be at most 65535, not 70000",
            id="out of range",
        ),
        pytest.param(
            ('sender = "cirt@localhost"', 'password = "hunter2"'),
            "config.toml:11: smtp.password: secrets do not belong in config.toml: set "
            "CIRT_SMTP_PASSWORD or smtp_password in {home}/secrets.toml",
            id="secret",
        ),
        pytest.param(
            ("port = 25", "port = 25 25"),
            "config.toml:9: (syntax): Expected newline or end of document after a statement",
            id="invalid TOML",
        ),
        pytest.param(
            ("# cirt", 'taxii = "on"\n# cirt'),
            "config.toml:1: taxii: unknown section (known: cirt, database, smtp, gpg, import, intake)",
            id="top-level key",
        ),
    ],
)
def test_a_bad_config_is_one_line_exit_1_and_the_store_untouched(
    workspace: Path, change: tuple[str, str], message: str
) -> None:
    config = workspace / "config.toml"
    before = _store(workspace)
    config.write_text(INIT_CONFIG.replace(*change, 1), encoding="utf-8")
    try:
        for command in (
            ("incident", "list"),
            (
                "incident",
                "open",
                "--title",
                "x",
                "--category",
                "phishing",
                "--severity",
                "low",
                "--sector",
                "btl",
            ),
        ):
            result = _cirt(*command, home=workspace)
            assert result.returncode == 1
            assert result.stderr == f"cirt: {workspace}/{message.format(home=workspace)}\n"
        check = _cirt("check", "--json", home=workspace)
        assert check.returncode == 1
        problems = [f["message"] for f in json.loads(check.stdout) if not f["ok"]]
        assert f"{workspace}/{message.format(home=workspace)}" in problems
    finally:
        config.write_text(INIT_CONFIG, encoding="utf-8")
    assert _store(workspace) == before
    assert _cirt("incident", "list", home=workspace).returncode == 0


def test_check_lists_every_config_problem_with_the_others(workspace: Path) -> None:
    config = workspace / "config.toml"
    sectors = workspace / "sectors.yaml"
    original = sectors.read_text()
    config.write_text(
        INIT_CONFIG.replace("port = 25", "port = true")
        + '\n[intake]\nimap_security = "tls"\nrate_limitt = 3\n',
        encoding="utf-8",
    )
    sectors.write_text(original.replace("sector: water", "sector: aqua"))
    try:
        result = _cirt("check", "--json", home=workspace)
    finally:
        config.write_text(INIT_CONFIG, encoding="utf-8")
        sectors.write_text(original)
    assert result.returncode == 1
    bad = [
        (f["area"], f["message"].removeprefix(f"{workspace}/"))
        for f in json.loads(result.stdout)
        if not f["ok"]
    ]
    assert bad[:3] == [
        ("config", "config.toml:9: smtp.port: must be a whole number, not true"),
        (
            "config",
            "config.toml:14: intake.imap_security: must be one of 'ssl', 'starttls' or 'none', not \"tls\"",
        ),
        ("config", "config.toml:15: intake.rate_limitt: unknown key (did you mean 'rate_limit'?)"),
    ]
    assert any(area == "sectors" and "organisations[2].sector" in text for area, text in bad)
    assert any(f["area"] == "database" and f["ok"] for f in json.loads(result.stdout))


def test_a_broken_database_section_is_never_guessed_at(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[database]\nurl = 5\n", encoding="utf-8")
    reading = read_config(tmp_path)
    assert [str(p) for p in reading.problems] == [
        f"{tmp_path}/config.toml:2: database.url: must be text in quotes, not 5"
    ]
    assert reading.broken == {"database"}


def test_environment_overrides_the_file_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CIRT_TIMEZONE", "CIRT_DB_URL", "CIRT_ANALYST"):
        monkeypatch.delenv(name, raising=False)
    assert load_config(tmp_path).timezone == "America/Belize"
    (tmp_path / "config.toml").write_text('[cirt]\ntimezone = "UTC"\n', encoding="utf-8")
    assert load_config(tmp_path).timezone == "UTC"
    monkeypatch.setenv("CIRT_TIMEZONE", "America/Guatemala")
    assert load_config(tmp_path).timezone == "America/Guatemala"


def test_a_secret_in_secrets_toml_with_broken_syntax_names_its_line(tmp_path: Path) -> None:
    from cirt.config import secret

    (tmp_path / "secrets.toml").write_text('smtp_password = "x"\nbroken =\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"secrets\.toml:2: \(syntax\)"):
        secret(tmp_path, "smtp_password")


# --- any valid configuration reads back as written -------------------------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=20)
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "str": _TEXT,
    "int": st.integers(1, 65535),
    "bool": st.booleans(),
}


def _field_values(section: str) -> st.SearchStrategy[dict[str, Any]]:
    model = SECTIONS[section]
    fields = {}
    for name, info in model.model_fields.items():
        annotation = str(info.annotation)
        if "Literal" in annotation:
            fields[name] = st.sampled_from(["ssl", "starttls", "none"])
        elif "bool" in annotation:
            fields[name] = _VALUES["bool"]
        elif "int" in annotation:
            fields[name] = _VALUES["int"]
        else:
            fields[name] = _VALUES["str"]
    return st.fixed_dictionaries({}, optional=fields)


_CONFIGS = st.fixed_dictionaries({}, optional={name: _field_values(name) for name in SECTIONS})


def _toml(config: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, values in config.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=_CONFIGS)
def test_any_valid_config_reads_back_as_written(
    config: dict[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("CIRT_TIMEZONE", "CIRT_DB_URL", "CIRT_ANALYST", "CIRT_SECTORS", "CIRT_PLAYBOOKS"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config.toml").write_text(_toml(config), encoding="utf-8")
    loaded = load_config(tmp_path)
    assert loaded.raw == config
    assert loaded.smtp == SmtpConfig(**config.get("smtp", {}))
    assert loaded.gpg == GpgSection(**config.get("gpg", {}))
    limits = {k: v for k, v in config.get("import", {}).items() if k != "allow_custom"}
    assert loaded.limits == ImportLimits(**limits)
    assert loaded.allow_custom == config.get("import", {}).get("allow_custom", False)
    assert loaded.intake == IntakeSection(**config.get("intake", {}))
    cirt = config.get("cirt", {})
    assert loaded.timezone == cirt.get("timezone", "America/Belize")
    assert loaded.reference_prefix == cirt.get("reference_prefix", "BZ")
    if cirt.get("sectors_file"):
        assert loaded.sectors_path == Path(cirt["sectors_file"])
    if config.get("database", {}).get("url"):
        assert loaded.database_url == config["database"]["url"]
