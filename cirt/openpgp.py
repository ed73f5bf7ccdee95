"""The CIRT's OpenPGP key, through GnuPG: sign log checkpoints and bulletins, encrypt to contacts.

Which key and which GnuPG home come from ``[gpg] home`` / ``[gpg] key`` in config.toml, overridden
by ``CIRT_GPG_HOME`` / ``CIRT_GPG_KEY``; a passphrase, if the key has one, is the secret
``gpg_passphrase`` (``CIRT_GPG_PASSPHRASE`` or secrets.toml).  GnuPG is only touched when a
signature or an encryption is actually needed, so commands that need neither work without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cirt.errors import CirtError, ConfigError

if TYPE_CHECKING:
    from cirt.config import GpgSection


class SignatureInvalid(CirtError):
    """A signed document whose signature does not verify, or not by the CIRT's key."""


# OpenPGP hash algorithm ids (RFC 4880 9.4) and their RFC 3156 ``micalg`` names.
_DIGESTS = {"2": "pgp-sha1", "8": "pgp-sha256", "9": "pgp-sha384", "10": "pgp-sha512", "11": "pgp-sha224"}


@dataclass(frozen=True)
class GpgSettings:
    home: Path | None
    key: str | None
    passphrase: str | None = None


def gpg_settings(section: GpgSection, passphrase: str | None) -> GpgSettings:
    """``[gpg]`` of config.toml, with ``CIRT_GPG_HOME`` / ``CIRT_GPG_KEY`` taking precedence;
    ``passphrase``: the secret ``gpg_passphrase``, if the key has one."""
    home = os.environ.get("CIRT_GPG_HOME") or section.home
    key = os.environ.get("CIRT_GPG_KEY") or section.key
    return GpgSettings(
        home=Path(str(home)).expanduser() if home else None,
        key=str(key) if key else None,
        passphrase=passphrase,
    )


@dataclass(frozen=True)
class SignedText:
    text: str
    fingerprint: str


class OpenPGP:
    """The narrow GnuPG adapter: what cirt signs, verifies and encrypts, nothing more."""

    def __init__(self, settings: GpgSettings) -> None:
        if not settings.key:
            raise ConfigError(
                "config.toml",
                None,
                "gpg.key",
                "no OpenPGP key configured: set [gpg] key (and home) or CIRT_GPG_KEY",
            )
        self.settings = settings

    @cached_property
    def _gpg(self) -> Any:
        import gnupg  # imported here: start-up time (~30 ms; only signing or encrypting needs it)

        home = self.settings.home
        if home is not None and not home.is_dir():
            raise ConfigError("config.toml", None, "gpg.home", f"{home} is not a directory")
        try:
            return gnupg.GPG(gnupghome=str(home) if home else None)
        except (OSError, ValueError, RuntimeError) as exc:
            raise ConfigError("config.toml", None, "gpg", f"GnuPG is not usable: {exc}") from None

    def _where(self) -> str:
        return str(self.settings.home) if self.settings.home else "the default GnuPG home"

    @cached_property
    def fingerprint(self) -> str:
        """The primary fingerprint of the configured secret key (it must be in the keyring)."""
        keys = self._gpg.list_keys(True, keys=[self.settings.key])
        if len(keys) != 1:
            found = "no" if not keys else "more than one"
            raise ConfigError(
                "config.toml",
                None,
                "gpg.key",
                f"{found} secret key matches '{self.settings.key}' in {self._where()}",
            )
        return str(keys[0]["fingerprint"])

    def clearsign(self, text: str) -> str:
        signed = self._gpg.sign(
            text, keyid=self.fingerprint, clearsign=True, passphrase=self.settings.passphrase
        )
        if not signed.data:
            raise CirtError(f"GnuPG could not sign with {self.fingerprint}: {signed.status}")
        return str(signed)

    def detached_signature(self, data: bytes) -> tuple[str, str]:
        """An ASCII-armoured detached signature and its digest name for ``micalg`` (RFC 3156)."""
        signed = self._gpg.sign(
            data, keyid=self.fingerprint, detach=True, binary=False, passphrase=self.settings.passphrase
        )
        if not signed.data:
            raise CirtError(f"GnuPG could not sign with {self.fingerprint}: {signed.status}")
        digest = _DIGESTS.get(str(signed.hash_algo))
        if digest is None:
            raise CirtError(f"GnuPG signed with an unexpected digest (algorithm {signed.hash_algo})")
        return str(signed), digest

    def sign_and_encrypt(self, data: bytes, recipients: list[str]) -> str:
        """One armoured OpenPGP message, signed by us and encrypted to the recipients' keys.

        The recipients' fingerprints come from sectors.yaml, which is the trust decision: the
        keyring only has to hold the keys, not certify them.
        """
        known = {k["fingerprint"] for k in self._gpg.list_keys(keys=recipients)}
        missing = [fpr for fpr in recipients if fpr not in known]
        if missing:
            raise ConfigError(
                "sectors.yaml",
                None,
                "pgp_fingerprint",
                f"key {missing[0]} is not in {self._where()}: import it with 'gpg --import' first",
            )
        result = self._gpg.encrypt(
            data,
            recipients,
            sign=self.fingerprint,
            always_trust=True,
            armor=True,
            passphrase=self.settings.passphrase,
        )
        if not result.ok:
            raise CirtError(f"GnuPG could not encrypt: {result.status}")
        return str(result)

    def read_signed(self, armored: str) -> SignedText:
        """The text a signed message vouches for, if the CIRT's own key signed it.

        The text is taken from GnuPG's output, never from the file around the signature, so
        lines added outside the signed block count for nothing.
        """
        result = self._gpg.decrypt(armored, passphrase=self.settings.passphrase)
        if not result.valid:
            status = result.status or "no signature"
            raise SignatureInvalid(f"the signature does not verify ({status})")
        signer = result.pubkey_fingerprint or result.fingerprint
        if signer != self.fingerprint:
            raise SignatureInvalid(f"signed by {signer}, not by the CIRT's key {self.fingerprint}")
        return SignedText(result.data.decode("utf-8"), signer)
