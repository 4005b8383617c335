"""The settings of an Alipay open-platform app: its id, the merchant's private key, Alipay's public key, the gateway.

Keys are given as Alipay's console shows them (the bare base64 body) or as PEM, either
as the value itself or as the path of a file holding it. They are loaded (and
checked: RSA, 2048 bits at least) when the account loads; an error names the
setting, never its value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

import pydantic

import paycore
from paycore import toolkit
from paycore_alipay._certs import load_certificate, load_roots, root_cert_sn
from paycore_alipay._keys import load_private_key, load_public_key

__all__ = ["GATEWAYS", "AlipaySettings"]

#: ``gateway`` presets: Alipay's production gateway and its sandbox environment
GATEWAYS = {
    "production": "https://openapi.alipay.com/gateway.do",
    "sandbox": "https://openapi-sandbox.dl.alipaydev.com/gateway.do",
}
_THIS_MACHINE = ("127.0.0.1", "localhost", "::1")


def _gateway_url(value: str) -> str:
    url = GATEWAYS.get(value, value)
    problem = toolkit.is_http_url(url, allow_query=False)
    if problem is not None:
        raise ValueError(f"is 'production', 'sandbox' or a URL that {problem}")
    if url.startswith("http://") and urlsplit(url).hostname not in _THIS_MACHINE:
        raise ValueError("must be https (plain http only on this machine, for a local sandbox)")
    return url


def _private_key(value: pydantic.SecretStr) -> pydantic.SecretStr:
    load_private_key(value.get_secret_value())
    return value


def _public_key(value: str) -> str:
    load_public_key(value)
    return value


def _app_cert(value: str) -> str:
    load_certificate(value, "app_cert")
    return value


def _alipay_cert(value: str) -> str:
    load_certificate(value, "alipay_cert")
    return value


def _alipay_root_cert(value: str) -> str:
    root_cert_sn(value)
    return value


_CERTIFICATE_SETTINGS = ("app_cert", "alipay_cert", "alipay_root_cert")


def _check_certificates(private_key: str, app_cert: str, alipay_cert: str, alipay_root_cert: str) -> None:
    """The certificates belong together: the app's holds the private key's public half, Alipay's is issued
    (through the intermediates that come with it) by a root of the bundle, and each is valid now."""
    app = load_certificate(app_cert, "app_cert")
    if load_private_key(private_key).public_key().public_numbers() != app.public_key.public_numbers():
        raise ValueError("app_cert is not the certificate of private_key's public key")
    alipay = load_certificate(alipay_cert, "alipay_cert")
    alipay.issued_by(load_roots(alipay_root_cert), "alipay_cert", datetime.now(UTC))


class AlipaySettings(paycore.ProviderSettings):
    """One Alipay app (``app_id``) and its keys: public-key mode or certificate mode."""

    app_id: Annotated[str, pydantic.StringConstraints(pattern=r"^[0-9]{6,32}$")]
    #: the merchant's RSA private key (application private key): PEM or bare base64, or a file path
    private_key: Annotated[pydantic.SecretStr, pydantic.Field(min_length=1), pydantic.AfterValidator(_private_key)]
    #: public-key mode: Alipay's RSA public key (not the application's): PEM or bare base64, or a file path
    alipay_public_key: Annotated[str, pydantic.AfterValidator(_public_key)] | None = None
    #: certificate mode: the application's public key certificate (appCertPublicKey_<app_id>.crt), PEM or a path
    app_cert: Annotated[str, pydantic.AfterValidator(_app_cert)] | None = None
    #: certificate mode: Alipay's public key certificate (alipayCertPublicKey_RSA2.crt), PEM or a path
    alipay_cert: Annotated[str, pydantic.AfterValidator(_alipay_cert)] | None = None
    #: certificate mode: Alipay's root certificate bundle (alipayRootCert.crt), PEM or a path
    alipay_root_cert: Annotated[str, pydantic.AfterValidator(_alipay_root_cert)] | None = None
    #: ``production``, ``sandbox`` or a gateway URL
    gateway: Annotated[str, pydantic.AfterValidator(_gateway_url)] = GATEWAYS["production"]
    #: the seller's id (``2088...``): when set, a notification for another seller is refused
    seller_id: Annotated[str, pydantic.StringConstraints(pattern=r"^[0-9]{6,32}$")] | None = None

    @pydantic.model_validator(mode="after")
    def _one_mode(self) -> AlipaySettings:
        given = [name for name in _CERTIFICATE_SETTINGS if getattr(self, name) is not None]
        if self.alipay_public_key is not None and given:
            raise ValueError("give alipay_public_key (public-key mode) or the certificates, not both")
        if self.alipay_public_key is None and len(given) != len(_CERTIFICATE_SETTINGS):
            missing = [name for name in _CERTIFICATE_SETTINGS if name not in given]
            if not given:
                raise ValueError(
                    "give alipay_public_key (public-key mode), or app_cert, alipay_cert and "
                    "alipay_root_cert (certificate mode)"
                )
            raise ValueError(f"certificate mode needs {', '.join(missing)} too")
        if self.app_cert and self.alipay_cert and self.alipay_root_cert:
            _check_certificates(
                self.private_key.get_secret_value(), self.app_cert, self.alipay_cert, self.alipay_root_cert
            )
        return self

    @property
    def certificate_mode(self) -> bool:
        return self.alipay_public_key is None
