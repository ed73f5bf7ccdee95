"""The citizens' reporting form: a report in, a status page for that report alone, and hostile
posts refused or neutralised with nothing stored half-way."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pytest
from werkzeug.test import Client, TestResponse

from cirt.errors import StoreError, StoreLocked
from cirt.intake.files import attachment
from cirt.intake.reports import submission
from cirt.servers.intake_form import CSP, IntakeApp
from cirt.workspace import Workspace

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64)
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\"'&\u202e\x00\x1b[31m"


@pytest.fixture
def app(home: Path) -> IntakeApp:
    return IntakeApp(lambda: Workspace.open(home))


@pytest.fixture
def browser(app: IntakeApp) -> Client:
    return Client(app)


def csrf_of(page: TestResponse) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True))
    assert found, "the form carries a CSRF token"
    return found[1]


def send(
    browser: Client,
    *,
    files: list[tuple[bytes, str, str]] = (),  # type: ignore[assignment]
    token: str | None = None,
    lang: str = "en",
    **fields: str,
) -> TestResponse:
    if token is None:
        token = csrf_of(browser.get(f"/?lang={lang}"))
    data: dict[str, object] = {
        "csrf": token,
        "category": "phishing",
        "what": "A message asked for my bank PIN",
        **fields,
    }
    if files:
        data["files"] = [(io.BytesIO(body), name, kind) for body, name, kind in files]
    return browser.post(
        f"/report?lang={lang}",
        data=data,
        content_type="multipart/form-data",
        environ_base={"REMOTE_ADDR": "198.51.100.77"},
    )


def stored(home: Path) -> tuple[int, list[Path]]:
    with Workspace.open(home) as ws:
        reports = len(ws.intake.list())
        folder = ws.intake.folder / "files"
        return reports, sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_the_form_is_english_or_spanish_with_no_script_and_a_strict_policy(browser: Client) -> None:
    english = browser.get("/")
    assert english.status_code == 200
    page = english.get_data(as_text=True)
    assert 'lang="en"' in page and "What happened?" in page and "<script" not in page
    assert english.headers["Content-Security-Policy"] == CSP
    assert "default-src 'none'" in CSP and "script-src" not in CSP
    assert english.headers["X-Frame-Options"] == "DENY"
    cookie = english.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    spanish = browser.get("/", headers={"Accept-Language": "es-BZ,es;q=0.9"})
    assert "¿Qué pasó?" in spanish.get_data(as_text=True)
    assert "IWF" in english.get_data(as_text=True)
    assert browser.get("/static/intake.css").status_code == 200


def test_a_report_with_a_picture_gets_a_reference_and_its_own_status_page(
    browser: Client, home: Path
) -> None:
    answer = send(
        browser,
        files=[(PNG, "screen shot.png", "image/png")],
        what="Got an SMS: verify at hxxps://cbb-verify[.]example/login from +501 600 0000",
        occurred="yesterday 18:00",
        reporter_contact="maria@example.org",
        lang="es",
    )
    assert answer.status_code == 303
    status = browser.get(answer.headers["Location"])
    page = status.get_data(as_text=True)
    reference = re.search(r'id="reference">(R-[A-Z0-9]+)<', page)
    assert reference and "Gracias" in page and "Recibido: un analista" in page
    with Workspace.open(home) as ws:
        report = ws.intake.get(reference[1])
        assert report.row.channel == "web" and report.row.language == "es"
        assert report.row.reporter_contact == "maria@example.org"
        [picture] = report.attachments
        assert picture.sha256 == hashlib.sha256(PNG).hexdigest() and picture.media_type == "image/png"
        [path] = ws.intake.attachment_paths(report)
        assert path.read_bytes() == PNG
        assert ("url", "https://cbb-verify.example/login") in report.indicators
    other = browser.get("/status/" + "A" * 43)
    assert other.status_code == 404 and reference[1] not in other.get_data(as_text=True)


def test_html_and_script_in_every_field_are_kept_as_text_and_never_run(browser: Client, home: Path) -> None:
    answer = send(browser, what=HOSTILE, occurred=HOSTILE, reporter_name=HOSTILE, reporter_contact=HOSTILE)
    assert answer.status_code == 303
    with Workspace.open(home) as ws:
        [row] = ws.intake.list()
    for value in (row.what, row.occurred, row.reporter_name, row.reporter_contact):
        assert value is not None and "<script>alert(1)</script>" in value
        assert "\u202e" not in value and "\x00" not in value and "\x1b" not in value
    # a refused post shows the text again, escaped
    again = send(browser, category="nonsense", what=HOSTILE)
    assert again.status_code == 400
    page = again.get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_post_without_the_forms_token_is_refused_and_nothing_is_stored(
    browser: Client, app: IntakeApp, home: Path
) -> None:
    assert send(browser, token="").status_code == 403
    forged = "abc.1700000000." + "0" * 32
    assert send(browser, token=forged).status_code == 403
    stranger = Client(app)  # another site's page posting into ours: no cookie of ours
    token = csrf_of(browser.get("/"))
    posted = stranger.post(
        "/report", data={"csrf": token, "category": "fraud", "what": "x"}, content_type="multipart/form-data"
    )
    assert posted.status_code == 403
    assert stored(home) == (0, [])


@pytest.mark.parametrize(
    ("files", "why"),
    [
        ([(b"MZ\x90\x00" + bytes(100), "invoice.png", "image/png")], "not a picture"),
        ([(PNG, "photo.pdf", "application/pdf")], "says it is application/pdf"),
        ([(b"", "empty.txt", "text/plain")], "is empty"),
        ([(PNG, f"p{i}.png", "image/png") for i in range(6)], "at most 5 files"),
    ],
)
def test_mistyped_and_too_many_attachments_refuse_the_whole_report(
    browser: Client, home: Path, files: list[tuple[bytes, str, str]], why: str
) -> None:
    answer = send(browser, files=[(PNG, "good.png", "image/png"), *files][: max(len(files), 2)])
    assert answer.status_code == 400 and why in answer.get_data(as_text=True)
    assert stored(home) == (0, [])


def test_an_oversized_attachment_is_refused_before_it_is_read_whole(browser: Client, home: Path) -> None:
    big = PNG + bytes(5 * 1024 * 1024)
    assert send(browser, files=[(big, "big.png", "image/png")]).status_code == 400
    huge = PNG + bytes(30 * 1024 * 1024)
    assert send(browser, files=[(huge, "huge.png", "image/png")]).status_code == 413
    assert stored(home) == (0, [])


def test_child_abuse_material_is_never_uploaded_and_the_reporter_is_sent_to_iwf_and_pitcu(
    browser: Client, home: Path
) -> None:
    answer = send(browser, category="csam", files=[(PNG, "x.png", "image/png")])
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and "https://report.iwf.org.uk/bz" in page and "PITCU" in page
    assert stored(home) == (0, [])
    assert send(browser, category="csam", what="a link to abuse images").status_code == 303


def test_a_flood_from_one_address_is_cut_off(browser: Client, home: Path) -> None:
    token = csrf_of(browser.get("/"))
    codes = [send(browser, token=token).status_code for _ in range(7)]
    assert codes == [303] * 5 + [429, 429]
    assert stored(home)[0] == 5


def test_the_status_page_follows_triage(browser: Client, home: Path) -> None:
    first = send(browser).headers["Location"]
    second = send(browser, category="cyberbullying", what="Threats on social media").headers["Location"]
    with Workspace.open(home) as ws:
        one, two = ws.intake.list()
        ws.intake.accept(one.reference, organisations=["cbb"])
        ws.intake.reject(two.reference, "not a cyber incident: referred to the police")
    assert "Accepted: an analyst is handling it." in browser.get(first).get_data(as_text=True)
    closed = browser.get(second).get_data(as_text=True)
    assert "Closed: no further action" in closed and "referred" not in closed


def test_a_failure_while_storing_leaves_neither_rows_nor_files(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Workspace.open(home) as ws:
        real = ws.store.insert_report

        def insert_then_fail(*args: object, **kwargs: object) -> int:
            real(*args, **kwargs)  # type: ignore[arg-type]
            raise StoreError("disk full")

        monkeypatch.setattr(ws.store, "insert_report", insert_then_fail)
        sub = submission(
            channel="web",
            category="fraud",
            what="paid for a phone never sent",
            files=(attachment("receipt.png", "image/png", PNG),),
        )
        with pytest.raises(StoreError):
            ws.intake.submit(sub)
    assert stored(home) == (0, [])


def test_a_store_that_fails_gets_a_plain_503_and_stores_nothing(
    app: IntakeApp, browser: Client, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = csrf_of(browser.get("/"))

    def locked(*_: object, **__: object) -> None:
        raise StoreLocked("the database is locked by another cirt process; try again")

    monkeypatch.setattr(app.ws.store, "insert_report", locked)
    answer = send(browser, token=token)
    assert answer.status_code == 503 and "Nothing was sent" in answer.get_data(as_text=True)
    assert stored(home) == (0, [])
