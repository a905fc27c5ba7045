"""Secrets never survive redact(): URL passwords, key=value pairs, SQL password clauses, registered secrets."""

from __future__ import annotations

import pytest

from dbsage.tools.sources.urls import parse_url, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgresql://app:s3cr3t@db:5432/x", "s3cr3t"),
        ("mysql+pymysql://root:hunter22@127.0.0.1/db failed", "hunter22"),
        ("host=db password=pa55word user=app", "pa55word"),
        ("PWD: 'quoted secret'", "quoted secret"),
        ("CREATE ROLE app LOGIN PASSWORD 'it''s-secret'", "it''s-secret"),
        ("CREATE USER 'u'@'%' IDENTIFIED BY 'maria-pw'", "maria-pw"),
    ],
)
def test_secret_is_gone(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "***" in out


def test_text_around_a_redacted_value_is_kept() -> None:
    out = redact("""(1045, "Access denied for user 'root'@'127.0.0.1' (using password: YES)")""")
    assert out.endswith("(using password: ***)\")")


def test_a_parsed_url_password_is_scrubbed_anywhere() -> None:
    url = parse_url("postgresql://app:Tr1cky-Pass@db.internal:5432/app")
    assert "Tr1cky-Pass" not in str(url) and "Tr1cky-Pass" not in repr(url)
    assert redact("driver said: bad auth for Tr1cky-Pass") == "driver said: bad auth for ***"
