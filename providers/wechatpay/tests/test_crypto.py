"""Signatures and decryption cross-checked with implementations paycore did not write: openssl and pycryptodome."""

from __future__ import annotations

import base64
import json

import pytest
from Crypto.Cipher import AES
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from paycore_wechatpay._sandbox_keys import seal as sandbox_seal
from paycore_wechatpay._signing import authorization, message, sign

from paycore import crypto


def _private(path):
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def _public(path):
    key = serialization.load_pem_public_key(path.read_bytes())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def test_the_signed_text_is_each_line_and_a_newline():
    # WeChat Pay's document: METHOD\nPATH\nTIMESTAMP\nNONCE\nBODY\n, the body byte for byte (empty for GET).
    assert message("GET", "/v3/certificates", "1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242", b"") == (
        b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    )
    assert message("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", '{"a":"中"}'.encode()) == (
        b'1554209980\nc5ac7061fccab6bf3e254dcf98995b8c\n{"a":"\xe4\xb8\xad"}\n'
    )


def test_our_request_signature_verifies_with_openssl(keys, wx):
    body = json.dumps({"mchid": wx.mchid, "description": "会员 月卡"}, ensure_ascii=False).encode()
    header = authorization(
        mchid=wx.mchid,
        serial_no=wx.merchant_serial,
        key=_private(keys.merchant_private),
        method="POST",
        path="/v3/pay/transactions/native",
        body=body,
    )
    scheme, _, rest = header.partition(" ")
    assert scheme == "WECHATPAY2-SHA256-RSA2048"
    fields = dict(part.split("=", 1) for part in rest.split(","))
    values = {name: value.strip('"') for name, value in fields.items()}
    assert (values["mchid"], values["serial_no"]) == (wx.mchid, wx.merchant_serial)
    signed = wx.longhand("POST", "/v3/pay/transactions/native", values["timestamp"], values["nonce_str"], body)
    assert keys.openssl_verify(signed, values["signature"], keys.merchant_public)
    assert not keys.openssl_verify(signed + b" ", values["signature"], keys.merchant_public)


def test_openssls_platform_signature_verifies_with_ours(keys, wx):
    signed = wx.longhand("1554209980", "c5ac7061fccab6bf3e254dcf98995b8c", b'{"code_url":"weixin://wxpay/bizpayurl"}')
    signature = keys.openssl_sign(signed, keys.platform_private)
    assert crypto.rsa_sha256_verify(signed, signature, _public(keys.platform_public))
    assert not crypto.rsa_sha256_verify(signed, signature, _public(keys.stranger_public))
    assert not crypto.rsa_sha256_verify(
        signed.replace(b"1554209980", b"1554209981"), signature, _public(keys.platform_public)
    )


@hypothesis_settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=64), st.text(max_size=16))
def test_any_body_signs_alike_in_both_implementations(keys, body, nonce):
    # PKCS#1 v1.5 signatures are deterministic: the two implementations give the same bytes.
    lines = ("1554209980", nonce, body)
    ours = sign(lines, _private(keys.platform_private))
    assert ours == keys.openssl_sign(message(*lines), keys.platform_private)


@hypothesis_settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.text(max_size=20))
def test_pycryptodomes_sealing_opens_with_ours(wx, plain, associated_data):
    sealed = wx.seal(plain, associated_data=associated_data)
    opened = crypto.aead_aes_256_gcm_decrypt(
        wx.apiv3_key.encode(), sealed["nonce"], sealed["associated_data"], sealed["ciphertext"]
    )
    assert opened == plain


def test_a_resource_opens_only_as_sealed(wx):
    sealed = wx.seal(b'{"out_trade_no":"A1"}', associated_data="transaction")
    key = wx.apiv3_key.encode()
    with pytest.raises(ValueError, match="does not open"):
        crypto.aead_aes_256_gcm_decrypt(key, sealed["nonce"], "certificate", sealed["ciphertext"])
    with pytest.raises(ValueError, match="does not open"):
        crypto.aead_aes_256_gcm_decrypt(key[::-1], sealed["nonce"], "transaction", sealed["ciphertext"])
    raw = bytearray(base64.b64decode(sealed["ciphertext"]))
    raw[0] ^= 1
    with pytest.raises(ValueError, match="does not open"):
        crypto.aead_aes_256_gcm_decrypt(key, sealed["nonce"], "transaction", base64.b64encode(raw).decode())
    with pytest.raises(ValueError, match="does not open"):
        crypto.aead_aes_256_gcm_decrypt(key, "000000000000", "transaction", sealed["ciphertext"])


def test_our_sandbox_seals_what_pycryptodome_opens(wx):
    # The sandbox's sealing (cryptography) against an independent opening (pycryptodome).
    sealed = sandbox_seal(b'{"mchid":"1900000109"}', wx.apiv3_key, "transaction")
    raw = base64.b64decode(sealed["ciphertext"])
    cipher = AES.new(wx.apiv3_key.encode(), AES.MODE_GCM, nonce=sealed["nonce"].encode())
    cipher.update(sealed["associated_data"].encode())
    assert cipher.decrypt_and_verify(raw[:-16], raw[-16:]) == b'{"mchid":"1900000109"}'
