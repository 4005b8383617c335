"""What the buyer does next to pay: follow a redirect, submit a form, scan a QR code, open an app, call an SDK."""

from __future__ import annotations

import html
from typing import Annotated, Literal

from pydantic import Field

from paycore._fields import AppUri, HttpUrl, Text, _Model

__all__ = ["AppLink", "NextAction", "PaymentForm", "QrCode", "Redirect", "SdkParameters"]


class Redirect(_Model):
    """Send the buyer's browser to ``url`` (the gateway's cashier, or a signed link)."""

    kind: Literal["redirect"] = "redirect"
    url: HttpUrl

    def describe(self) -> str:
        """One line saying what the buyer does, for a terminal or a log."""
        return f"send the buyer's browser to {self.url}"


class PaymentForm(_Model):
    """A signed form that the buyer's browser must submit to the gateway."""

    kind: Literal["form"] = "form"
    action: HttpUrl
    method: Literal["POST", "GET"] = "POST"
    fields: dict[str, str]

    def describe(self) -> str:
        """One line saying what the buyer does, for a terminal or a log."""
        return f"the buyer's browser submits a {self.method} form of {len(self.fields)} fields to {self.action}"

    def to_html(self, *, auto_submit: bool = True) -> str:
        """Render the form as an HTML page, every value escaped.

        With ``auto_submit`` the page submits itself on load; the button stays
        for browsers without JavaScript.
        """
        inputs = "\n".join(
            f'    <input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}">'
            for name, value in self.fields.items()
        )
        script = "<script>document.forms[0].submit();</script>\n" if auto_submit else ""
        return (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Redirecting to payment'
            "</title></head>\n<body>\n"
            f'  <form method="{self.method.lower()}" action="{html.escape(self.action)}" accept-charset="utf-8">\n'
            f"{inputs}\n"
            '    <button type="submit">Continue to payment</button>\n'
            "  </form>\n"
            f"{script}</body></html>\n"
        )


class QrCode(_Model):
    """Show the buyer a QR code holding ``content`` (``weixin://wxpay/...``, ``https://qr.alipay.com/...``).

    Render it with any QR library; the buyer scans it with the wallet.
    """

    kind: Literal["qr_code"] = "qr_code"
    content: AppUri

    def describe(self) -> str:
        """One line saying what the buyer does, for a terminal or a log."""
        return f"show the buyer a QR code of {self.content}"


class AppLink(_Model):
    """Open ``url`` on the buyer's device: a wallet app's URL scheme or universal link."""

    kind: Literal["app_link"] = "app_link"
    url: AppUri

    def describe(self) -> str:
        """One line saying what the buyer does, for a terminal or a log."""
        return f"open {self.url} on the buyer's device"


class SdkParameters(_Model):
    """Hand ``parameters`` to a wallet's SDK or in-app JS bridge named by ``sdk``.

    E.g. ``sdk="wechat_jsapi"`` with ``appId``, ``timeStamp``, ``nonceStr``,
    ``package``, ``signType``, ``paySign`` for ``WeixinJSBridge``; the provider's
    documentation names its SDKs.
    """

    kind: Literal["sdk"] = "sdk"
    sdk: Annotated[str, Field(pattern=r"^[a-z0-9_.-]{1,64}$")]
    parameters: dict[str, Text]

    def describe(self) -> str:
        """One line saying what the buyer does, for a terminal or a log."""
        return f"call the {self.sdk} SDK with {', '.join(sorted(self.parameters)) or 'no parameters'}"


#: What the buyer must do next to pay: one of a small closed set, told apart by ``kind``.
NextAction = Annotated[Redirect | PaymentForm | QrCode | AppLink | SdkParameters, Field(discriminator="kind")]
