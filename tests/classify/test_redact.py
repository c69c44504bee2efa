"""Secret redaction: keys of every provider, bearer tokens, key=value pairs and
anything key-shaped are masked; ordinary words and ids survive."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resilience._classify.redact import MASK, redact, shorten

SECRETS = [
    "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56",
    "sk-ant-api03-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0Fe-AbCdEf",
    "sk-svcacct-0123456789abcdefABCDEF",
    "sk-or-v1-0123456789abcdef0123456789abcdef",
    "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
    "gsk_abcdefABCDEF0123456789abcdef",
    "xai-0123456789abcdefABCDEF0123",
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYz012345",
    "AKIAIOSFODNN7EXAMPLE",
]


@pytest.mark.parametrize("secret", SECRETS)
def test_provider_keys_are_masked_in_any_context(secret: str) -> None:
    for text in (
        f"Incorrect API key provided: {secret}.",
        f'{{"api_key": "{secret}"}}',
        f"https://host/v1/models?key={secret}&alt=json",
        f"{secret}",
    ):
        out = redact(text)
        assert secret not in out, text
        assert secret[8:20] not in out
        assert MASK in out


def test_the_prefix_survives_so_a_reader_knows_which_provider() -> None:
    assert redact("key sk-ant-api03-AbCdEf123456 rejected") == "key sk-ant-api03-*** rejected"
    assert redact("key AIzaSyA1b2C3d4E5f6G7h8I9j0 rejected").startswith("key AIza***")


def test_already_masked_keys_lose_their_visible_characters() -> None:
    assert (
        redact("Incorrect API key provided: sk-abc...xyz.") == "Incorrect API key provided: sk-***."
    )
    assert "abcd" not in redact("sk-proj-****************************abcd")


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz", "Bearer"),
        ("x-api-key: abcd1234efgh", "x-api-key"),
        ('{"password": "hunter22"}', "password"),
        ("access_token=ya29.A0AfH6SMBx-token", "access_token"),
    ],
)
def test_named_credentials_and_bearer_tokens(text: str, kept: str) -> None:
    out = redact(text)
    assert kept in out and MASK in out
    assert text.split()[-1].strip('"}') not in out


def test_key_shaped_strings_are_masked_but_ids_and_words_are_not() -> None:
    assert redact("token Zk3x9QmN2pL8vR4tW7yB1cF6hJ0sD5gA") == f"token {MASK}"
    for harmless in (
        "a risk-based task-runner",
        "request req_011CZAZuCr9hV42toiCdnnKB failed",
        "id 123e4567-e89b-12d3-a456-426614174000",
        "model gpt-4o-mini-2024-07-18",
        "ASIAPACIFIC region",
        "The model `gpt-4` does not exist",
    ):
        assert redact(harmless) == harmless


def test_shorten_is_one_line_bounded_and_redacted() -> None:
    text = "line one\n\nline two " + "word " * 200 + " sk-proj-Ab12Cd34Ef56Gh78"
    out = shorten(text, limit=120)
    assert "\n" not in out and len(out) <= 120 and out.endswith("…")
    assert "Ab12Cd34" not in shorten("x sk-proj-Ab12Cd34Ef56Gh78 y")


@given(st.text(max_size=300))
def test_redact_and_shorten_never_raise_on_any_text(text: str) -> None:
    out = redact(text)
    assert isinstance(out, str)
    assert len(shorten(text)) <= 300


def _redact_without_shortcuts(text: str) -> str:
    """Every pattern, every time: what redact() did before it learned to skip."""
    from resilience._classify import redact as r

    out = r._PREFIXED.sub(lambda m: (m.group(1) or m.group(2)) + MASK, text)
    out = r._BEARER.sub(lambda m: m.group(1) + m.group(2) + MASK, out)
    out = r._JWT.sub(MASK, out)
    out = r._NAMED.sub(r._mask_named, out)
    return r._LONG_TOKEN.sub(r._mask_long, out)


_SECRETISH = st.sampled_from(
    [*SECRETS, "Bearer ", "bearer\t", "Authorization: ", "api_key=", "X-API-KEY: ", "eyJ",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
     "password=", "token:", "secret: ", "KEY=", "ſecret=", "İ", " ", ".", '"', "'", "="]
)  # fmt: skip


@given(st.lists(st.one_of(_SECRETISH, st.text(max_size=12)), max_size=12).map("".join))
def test_skipping_absent_patterns_never_changes_what_is_masked(text: str) -> None:
    """The cheap substring checks only skip patterns that could not match."""
    assert redact(text) == _redact_without_shortcuts(text)
