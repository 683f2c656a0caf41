"""`newsbot ingest` of a changed source, `newsbot correct` and `newsbot retract`, in-process."""

from __future__ import annotations

from pathlib import Path

from bot.cli.views import BROADCAST_KEYS
from tests.integration.test_cli_broadcasts import database, newsbot  # noqa: F401
from tests.integration.test_corrections import ORIGINAL, revised_text


def test_ingest_says_updated_then_correct_and_retract(database: Path, tmp_path: Path) -> None:  # noqa: F811
    source = tmp_path / "story.md"
    source.write_text(ORIGINAL, encoding="utf-8")
    first = newsbot(database, "ingest", str(source))
    assert first.returncode == 0, first.stderr
    article_id = first.stdout.split("\t")[0]
    assert "already stored" in newsbot(database, "ingest", str(source)).stdout

    source.write_text(revised_text(), encoding="utf-8")
    updated = newsbot(database, "ingest", str(source), "--publish")
    assert updated.returncode == 0, updated.stderr
    assert updated.stdout.startswith(f"{article_id}\t")
    assert updated.stdout.rstrip().endswith("\t(updated)")  # and not pushed again
    assert "already stored" in newsbot(database, "ingest", str(source)).stdout

    never = newsbot(database, "correct", article_id)
    assert never.returncode == 2
    assert "has not been pushed to anyone" in never.stderr
    assert newsbot(database, "correct", "999").returncode == 2
    assert newsbot(database, "retract", "abc").returncode == 2

    retracted = newsbot(database, "retract", article_id)
    assert retracted.returncode == 0, retracted.stderr
    assert retracted.stdout.startswith(f"retraction #1: article {article_id} withdrawn, 0 chats")
    again = newsbot(database, "retract", article_id)
    assert again.returncode == 2
    assert again.stderr == f"newsbot: article {article_id} has been withdrawn\n"
    stats = newsbot(database, "stats", "1")
    # Piped: tab-separated fields in BROADCAST_KEYS order; running until the bot ends it.
    fields = dict(zip(BROADCAST_KEYS, stats.stdout.rstrip("\n").split("\t"), strict=True))
    assert (fields["id"], fields["status"], fields["kind"]) == ("1", "running", "retract")
    assert article_id not in newsbot(database, "articles").stdout.split()
