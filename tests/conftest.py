"""Shared fixtures: the published Arabic corpus article when the shared folder is present."""

from __future__ import annotations

import pytest

from tests.texts import CORPUS


@pytest.fixture
def corpus_text() -> str:
    """The real Arabic article in our ingest shape; skipped when ../shared is absent."""
    path = CORPUS / "ar-putin-kim.txt"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    return path.read_text(encoding="utf-8")
