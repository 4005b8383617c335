"""paycore.crypto against implementations it was not written from: the openssl command line, and pycryptodome."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest
from Crypto.Cipher import AES  # pycryptodome: an AES-GCM of its own
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from paycore import crypto


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    found = shutil.which("openssl")
    if found is None:
        pytest.fail("the openssl command line is needed to cross-check SHA256withRSA (apt-get install openssl)")
    return subprocess.run([found, *args], input=stdin, capture_output=True, check=True).stdout


@pytest.fixture(scope="module")
def rsa_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("rsa")
    private, public = folder / "private.pem", folder / "public.pem"
    _openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(private))
    _openssl("pkey", "-in", str(private), "-pubout", "-out", str(public))
    return private, public


MESSAGE = b'POST\n/v3/pay/transactions/native\n1733300000\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n{"amount":1}\n'


def test_a_signature_made_here_verifies_with_openssl(rsa_files, tmp_path):
    private, public = rsa_files
    signature = crypto.rsa_sha256_sign(MESSAGE, crypto.load_private_key(str(private)))
    (tmp_path / "sig").write_bytes(base64.b64decode(signature))
    (tmp_path / "msg").write_bytes(MESSAGE)
    verdict = _openssl(
        "dgst", "-sha256", "-verify", str(public), "-signature", str(tmp_path / "sig"), str(tmp_path / "msg")
    )
    assert b"Verified OK" in verdict


def test_a_signature_made_by_openssl_verifies_here_and_nothing_else_does(rsa_files, tmp_path):
    private, public = rsa_files
    (tmp_path / "msg").write_bytes(MESSAGE)
    raw = _openssl("dgst", "-sha256", "-sign", str(private), str(tmp_path / "msg"))
    signature = base64.b64encode(raw).decode()
    key = crypto.load_public_key(str(public), "platform_public_key")
    assert crypto.rsa_sha256_verify(MESSAGE, signature, key)
    assert not crypto.rsa_sha256_verify(MESSAGE + b" ", signature, key)
    assert not crypto.rsa_sha256_verify(MESSAGE, signature[:-4] + "AAA=", key)
    assert not crypto.rsa_sha256_verify(MESSAGE, "not base64!", key)


def test_a_private_key_given_for_a_public_one_is_refused_naming_whose_key(rsa_files):
    private, _ = rsa_files
    with pytest.raises(ValueError, match="give WeChat Pay's public key, not a private one") as raised:
        crypto.load_public_key(private.read_text(), "wechatpay_public_key", owner="WeChat Pay")
    assert "PRIVATE KEY-----" not in str(raised.value)


def _sealed(key: bytes, nonce: str, associated: str, plain: bytes) -> str:
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce.encode())
    cipher.update(associated.encode())
    ciphertext, tag = cipher.encrypt_and_digest(plain)
    return base64.b64encode(ciphertext + tag).decode()


KEY = b"0123456789abcdef0123456789abcdef"  # an APIv3 key is 32 characters


@given(
    plain=st.binary(max_size=512),
    nonce=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=12, max_size=12),
    associated=st.text(max_size=32),
)
def test_aes_gcm_opens_what_pycryptodome_sealed(plain, nonce, associated):
    assert crypto.aead_aes_256_gcm_decrypt(KEY, nonce, associated, _sealed(KEY, nonce, associated, plain)) == plain


@pytest.mark.parametrize("change", ["ciphertext", "tag", "associated data", "nonce", "key"])
def test_aes_gcm_refuses_anything_changed(change):
    sealed = _sealed(KEY, "4e0a6b2c1d9f", "transaction", b'{"trade_state":"SUCCESS"}')
    raw = bytearray(base64.b64decode(sealed))
    key, nonce, associated = KEY, "4e0a6b2c1d9f", "transaction"
    if change == "ciphertext":
        raw[0] ^= 1
    elif change == "tag":
        raw[-1] ^= 1
    elif change == "associated data":
        associated = "refund"
    elif change == "nonce":
        nonce = "4e0a6b2c1d9e"
    else:
        key = KEY[:-1] + b"0"
    with pytest.raises(ValueError, match="does not open"):
        crypto.aead_aes_256_gcm_decrypt(key, nonce, associated, base64.b64encode(bytes(raw)).decode())


def test_aes_gcm_refuses_a_wrong_length_key_and_text_that_is_not_base64():
    with pytest.raises(ValueError, match="32 bytes"):
        crypto.aead_aes_256_gcm_decrypt(b"short", "n", "a", "AAAA")
    with pytest.raises(ValueError, match="not base64"):
        crypto.aead_aes_256_gcm_decrypt(KEY, "n", "a", "***")


@pytest.mark.parametrize(
    ("timestamp", "fresh"),
    [
        ("1000", True),
        ("700", True),
        ("1300", True),
        ("699", False),
        ("1301", False),
        ("1e3", False),
        ("", False),
        ("\u0661\u0660\u0660\u0660", False),  # Arabic-Indic digits are no timestamp
        ("9" * 13, False),
    ],
)
def test_a_timestamp_is_fresh_within_max_age_either_way(timestamp, fresh):
    assert crypto.is_fresh(timestamp, 300, now=1000.0) is fresh


def test_keys_load_from_bare_base64_as_consoles_give_them(rsa_files):
    private, _ = rsa_files
    key = crypto.load_private_key(str(private))
    bare = base64.b64encode(
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    assert crypto.load_public_key(bare, "platform_public_key").public_numbers() == key.public_key().public_numbers()
