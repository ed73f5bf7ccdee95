"""The citizen's reporting form: a WSGI application (Werkzeug for HTTP, Jinja2 for pages).

No JavaScript, one stylesheet, English and Spanish.  Every page carries a content security
policy that allows nothing but our own stylesheet and form posts to ourselves.  A post must carry
the CSRF token of the page it came from (a signed double-submit token: cookie and hidden field),
comes under the per-address limit before anything is read, and is refused whole (nothing stored)
when any part is wrong: size, file type, a missing account of what happened.  The reporter is
sent to the status page of that report alone, reached by an unguessable token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from cirt.errors import CirtError, InvalidValue, NotFound
from cirt.intake.desk import RateLimited
from cirt.intake.extract import candidates
from cirt.intake.files import ACCEPTED, MAX_FILES, attachment
from cirt.intake.reports import CATEGORIES, NO_UPLOADS, submission
from cirt.workspace import Workspace

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
CSRF_COOKIE = "cirt_csrf"
CSRF_MAX_AGE = 4 * 3600
IWF_BELIZE = "https://report.iwf.org.uk/bz"

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Report a cyber incident",
        "other_language": "Español",
        "other": "es",
        "intro": "Tell the National CIRT of Belize what happened. You do not need to give your "
        "name. Nothing you write here is shared with anyone outside the CIRT.",
        "category": "What kind of problem is it?",
        "what": "What happened?",
        "what_hint": "In your own words: what you saw, what you clicked, what was lost.",
        "when": "When did it happen?",
        "when_hint": 'A date, or "yesterday evening".',
        "name": "Your name (optional)",
        "contact": "How can we reach you? (optional)",
        "contact_hint": "E-mail or phone number, if you want us to contact you.",
        "files": "Screenshots or documents (optional)",
        "files_hint": "Up to {count} pictures, PDFs, text or saved e-mails, {mb} MB each.",
        "csam_warning": "Never upload images of child sexual abuse. Report them to the IWF "
        "portal for Belize and to the Police Cybercrime Unit (PITCU).",
        "send": "Send report",
        "thanks": "Thank you. Your report has been received.",
        "reference": "Your reference",
        "keep_link": "Keep this page's address: it is the "
        "only way to see the status of your report. Do not share it.",
        "status": "Status",
        "received": "Received",
        "state_new": "Received: an analyst will look at it soon.",
        "state_accepted": "Accepted: an analyst is handling it.",
        "state_rejected": "Closed: no further action by the CIRT.",
        "error": "Your report was not sent",
        "again": "Back to the form",
        "not_found": "There is no report at this address.",
        "csrf": "This form has expired. Open it again and send it once more.",
        "too_many": "Too many reports from your connection. Please try again later.",
        "too_large": "The files are too large.",
        "unavailable": "The reporting service is busy. Nothing was sent: please try again in a few minutes.",
        "cat_phishing": "A suspicious e-mail, message or website (phishing)",
        "cat_fraud": "Fraud or a scam (money, shopping, investment)",
        "cat_account": "Someone took over my account",
        "cat_cyberbullying": "Cyberbullying or harassment",
        "cat_sextortion": "Sextortion (threats to share intimate images)",
        "cat_malware": "A virus or ransomware on my device",
        "cat_csam": "Images of child sexual abuse (no uploads)",
        "cat_other": "Something else",
        "csam_title": "Child sexual abuse material",
        "csam_text": "Do not send, save or forward the images. Report the address where you saw "
        "them to the IWF portal for Belize, and tell the Police Information "
        "Technology and Cybercrime Unit (PITCU). You can still describe what "
        "happened here, without attachments.",
        "iwf": "IWF reporting portal for Belize",
    },
    "es": {
        "title": "Reportar un incidente cibernético",
        "other_language": "English",
        "other": "en",
        "intro": "Cuéntele al CIRT Nacional de Belice lo que pasó. No necesita dar su nombre. "
        "Nada de lo que escriba aquí se comparte con nadie fuera del CIRT.",
        "category": "¿Qué tipo de problema es?",
        "what": "¿Qué pasó?",
        "what_hint": "Con sus propias palabras: qué vio, en qué hizo clic, qué perdió.",
        "when": "¿Cuándo pasó?",
        "when_hint": 'Una fecha, o "ayer por la tarde".',
        "name": "Su nombre (opcional)",
        "contact": "¿Cómo podemos contactarle? (opcional)",
        "contact_hint": "Correo o teléfono, si desea que le contactemos.",
        "files": "Capturas de pantalla o documentos (opcional)",
        "files_hint": "Hasta {count} imágenes, PDF, textos o correos guardados, {mb} MB cada uno.",
        "csam_warning": "Nunca suba imágenes de abuso sexual infantil. Repórtelas al portal de "
        "la IWF para Belice y a la Unidad de Cibercrimen de la Policía (PITCU).",
        "send": "Enviar reporte",
        "thanks": "Gracias. Hemos recibido su reporte.",
        "reference": "Su referencia",
        "keep_link": "Guarde la dirección de esta página: es la "
        "única forma de ver el estado de su reporte. No la comparta.",
        "status": "Estado",
        "received": "Recibido",
        "state_new": "Recibido: un analista lo revisará pronto.",
        "state_accepted": "Aceptado: un analista lo está atendiendo.",
        "state_rejected": "Cerrado: el CIRT no tomará más acciones.",
        "error": "Su reporte no fue enviado",
        "again": "Volver al formulario",
        "not_found": "No hay ningún reporte en esta dirección.",
        "csrf": "Este formulario expiró. Ábralo de nuevo y envíelo otra vez.",
        "too_many": "Demasiados reportes desde su conexión. Intente más tarde.",
        "too_large": "Los archivos son demasiado grandes.",
        "unavailable": "El servicio de reportes está ocupado. No se envió nada: intente de nuevo "
        "en unos minutos.",
        "cat_phishing": "Un correo, mensaje o sitio web sospechoso (phishing)",
        "cat_fraud": "Fraude o estafa (dinero, compras, inversiones)",
        "cat_account": "Alguien tomó control de mi cuenta",
        "cat_cyberbullying": "Ciberacoso u hostigamiento",
        "cat_sextortion": "Sextorsión (amenazas de compartir imágenes íntimas)",
        "cat_malware": "Un virus o ransomware en mi dispositivo",
        "cat_csam": "Imágenes de abuso sexual infantil (sin archivos)",
        "cat_other": "Otra cosa",
        "csam_title": "Material de abuso sexual infantil",
        "csam_text": "No envíe, guarde ni reenvíe las imágenes. Reporte la dirección donde las "
        "vio al portal de la IWF para Belice e informe a la Unidad de Tecnología de "
        "la Información y Cibercrimen de la Policía (PITCU). Puede describir lo "
        "que pasó aquí, sin archivos adjuntos.",
        "iwf": "Portal de reportes de la IWF para Belice",
    },
}


class IntakeApp:
    """The WSGI application; each worker opens its own workspace on its first request."""

    def __init__(self, open_workspace: Callable[[], Workspace]) -> None:
        self._open = open_workspace
        self._ws: Workspace | None = None
        self.pages = Environment(
            loader=FileSystemLoader(HERE / "templates" / "intake"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self.stylesheet = (HERE / "static" / "intake.css").read_bytes()

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            self._ws = self._open()
        return self._ws

    @cached_property
    def key(self) -> bytes:
        return self.ws.intake.secret_key()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        settings = self.ws.config.intake
        request.max_content_length = MAX_FILES * settings.max_file_mb * 1024 * 1024 + 256 * 1024
        request.max_form_memory_size = 64 * 1024
        request.max_form_parts = MAX_FILES + 16
        try:
            response = self.route(request)
        except RequestEntityTooLarge:
            response = self.message(request, "too_large", 413)
        except CirtError:  # the store busy or failing: nothing was stored, say so and go on
            response = Response(
                TEXT[self.language(request)]["unavailable"], status=503, mimetype="text/plain"
            )
        except HTTPException as exc:
            response = exc.get_response(environ)
        for name, value in (
            ("Content-Security-Policy", CSP),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "no-referrer"),
            ("X-Frame-Options", "DENY"),
        ):
            response.headers[name] = value
        response.headers.setdefault("Cache-Control", "no-store")
        return response(environ, start_response)

    # --- pages ------------------------------------------------------------------------------

    def route(self, request: Request) -> Response:
        path = request.path
        if path == "/static/intake.css" and request.method == "GET":
            return Response(
                self.stylesheet, mimetype="text/css", headers={"Cache-Control": "public, max-age=3600"}
            )
        if path == "/" and request.method in ("GET", "HEAD"):
            return self.form(request)
        if path == "/report" and request.method == "POST":
            return self.post(request)
        if path.startswith("/status/") and request.method in ("GET", "HEAD"):
            return self.status(request, path.removeprefix("/status/"))
        if path == "/csam" and request.method in ("GET", "HEAD"):
            return self.render(request, "csam.html", {})
        return self.message(request, "not_found", 404)

    def language(self, request: Request) -> str:
        chosen = request.args.get("lang")  # the form posts to /report?lang=…: no body is read
        if chosen in TEXT:
            return chosen
        best = request.accept_languages.best_match(["en", "es"])
        return best or "en"

    def render(self, request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
        lang = self.language(request)
        token = self.csrf_token(request)
        body = self.pages.get_template(template).render(
            t=TEXT[lang],
            lang=lang,
            csrf=token,
            categories=list(CATEGORIES),
            accepted=", ".join(sorted(set(ACCEPTED.values()))),
            iwf=IWF_BELIZE,
            max_files=MAX_FILES,
            max_mb=self.ws.config.intake.max_file_mb,
            **context,
        )
        response = Response(body, status=status, mimetype="text/html")
        response.set_cookie(
            CSRF_COOKIE,
            token,
            max_age=CSRF_MAX_AGE,
            httponly=True,
            samesite="Strict",
            secure=request.scheme == "https",
            path="/",
        )
        return response

    def message(self, request: Request, key: str, status: int) -> Response:
        return self.render(request, "message.html", {"key": key}, status)

    def form(
        self,
        request: Request,
        *,
        error: str | None = None,
        values: dict[str, str] | None = None,
        status: int = 200,
    ) -> Response:
        return self.render(request, "form.html", {"error": error, "values": values or {}}, status)

    def post(self, request: Request) -> Response:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        try:
            self.ws.intake.admit(request.remote_addr or "unknown")
        except RateLimited:
            return self.message(request, "too_many", 429)
        sent = request.form.get("csrf", "")
        if not cookie or not hmac.compare_digest(cookie, sent) or not self.valid_csrf(cookie):
            return self.message(request, "csrf", 403)
        values = {
            name: request.form.get(name, "")
            for name in ("category", "what", "occurred", "reporter_name", "reporter_contact")
        }
        try:
            files = []
            uploads = [f for f in request.files.getlist("files") if f.filename]
            if len(uploads) > MAX_FILES:
                raise InvalidValue(f"at most {MAX_FILES} files")
            if uploads and values["category"] in NO_UPLOADS:
                return self.render(request, "csam.html", {}, 400)
            limit = self.ws.config.intake.max_file_mb * 1024 * 1024
            for upload in uploads:
                data = upload.stream.read(limit + 1)
                files.append(
                    attachment(upload.filename or "file", upload.mimetype or "", data, max_bytes=limit)
                )
            sub = submission(
                channel="web",
                language=self.language(request),
                files=tuple(files),
                indicators=tuple(candidates(values["what"])),
                **values,
            )
            receipt = self.ws.intake.submit(sub)
        except InvalidValue as exc:
            return self.form(request, error=str(exc), values=values, status=400)
        response = Response(status=303)
        response.headers["Location"] = f"/status/{receipt.token}?new=1&lang={sub.language}"
        return response

    def status(self, request: Request, token: str) -> Response:
        try:
            row = self.ws.intake.status(token)
        except NotFound:
            return self.message(request, "not_found", 404)
        return self.render(
            request,
            "status.html",
            {
                "reference": row.reference,
                "received": row.received[:16].replace("T", " ") + " UTC",
                "state": row.state,
                "new": request.args.get("new") == "1",
            },
        )

    # --- CSRF -------------------------------------------------------------------------------

    def csrf_token(self, request: Request) -> str:
        """The visitor's token if still valid (several tabs keep working), else a new one."""
        current = request.cookies.get(CSRF_COOKIE, "")
        if current and self.valid_csrf(current):
            return current
        nonce = f"{secrets.token_urlsafe(18)}.{int(time.time())}"
        return f"{nonce}.{self._sign(nonce)}"

    def valid_csrf(self, token: str) -> bool:
        nonce, _, signature = token.rpartition(".")
        _, _, issued = nonce.rpartition(".")
        if not issued.isdigit() or not hmac.compare_digest(self._sign(nonce), signature):
            return False
        return 0 <= time.time() - int(issued) <= CSRF_MAX_AGE

    def _sign(self, nonce: str) -> str:
        return hmac.new(self.key, nonce.encode(), hashlib.sha256).hexdigest()[:32]


def build_app(home: Path) -> IntakeApp:
    return IntakeApp(lambda: Workspace.open(home))
