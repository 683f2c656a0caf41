"""`newsbot preview` and bad input, run as a user runs them: a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.texts import CORPUS, REPO, SAMPLES


def newsbot(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def test_preview_json_shape_for_the_arabic_sample() -> None:
    result = newsbot("preview", str(SAMPLES / "ar-solar-station.txt"), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    expected = {"id", "title", "byline", "lead", "summary", "language", "topics", "url"}
    assert expected | {"related", "sections"} <= set(data)
    assert data["id"] is None and data["language"] == "ar"
    assert data["summary"] == data["lead"]
    assert len(data["related"]) == 2
    for number, section in enumerate(data["sections"], start=1):
        assert section["index"] == number
        assert set(section) == {"index", "heading", "html", "text", "utf16_length"}
        assert section["utf16_length"] == len(section["text"].encode("utf-16-le")) // 2


def test_preview_corpus_article() -> None:
    path = CORPUS / "ar-putin-kim.txt"
    if not path.exists():
        pytest.skip(f"{path} is not present")
    result = newsbot("preview", str(path), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["title"] == "بعد لقاء بوتين وكيم في روسيا.. ماذا يريد كلاهما من الآخر؟"
    assert data["byline"] == "محمد النحاس"
    assert data["lead"].startswith("اختار زعيما روسيا وكوريا الشمالية")
    assert data["related"] == [
        "زيارة تاريخية .. بوتين يستقبل كيم في قاعدة فضائية",
        "زعيم كوريا الشمالية يغادر روسيا عقب انتهاء المحادثات مع بوتين",
    ]
    texts = " ".join(s["text"] for s in data["sections"])
    assert "ربما يعجبك" not in texts and "اقرأ أيضًا" not in texts
    assert len(data["sections"]) >= 3


def test_preview_feed_prints_one_object_per_entry() -> None:
    result = newsbot("preview", str(SAMPLES / "en-feed.xml"), "--json")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [json.loads(line)["language"] for line in lines] == ["en", "ar"]


def test_preview_rich_view_shows_sections_in_order() -> None:
    result = newsbot("preview", str(SAMPLES / "en-night-buses.md"))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "City approves a night bus network" in out
    assert out.index("story") < out.index("1/1")


def test_section_target_setting_is_honoured(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("NEWSBOT_SECTION_TARGET=300\n")
    result = newsbot("preview", str(SAMPLES / "ar-solar-station.txt"), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["sections"]) > 4


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"Title\n\nBody \x81\x8d\x8f\x90\x9d\x81\x8d\x8f\x90 here", "not UTF-8"),
        (b"Only a title\n", "no body text"),
        (b"<html><body><div><p></span></body>", "no article text"),
        (
            b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title></channel></rss>",
            "no entries",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / ("input.xml" if b"rss" in content else "input.html")
    path.write_bytes(content)
    result = newsbot("preview", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and reason in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_path_exits_2(tmp_path: Path) -> None:
    result = newsbot("preview", str(tmp_path / "nope.txt"))
    assert result.returncode == 2
    assert "no such file or directory" in result.stderr
    assert result.stderr.count("\n") == 1


def test_bad_setting_exits_2(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NEWSBOT_SECTION_TARGET=ten\n")
    result = newsbot("preview", str(SAMPLES / "en-night-buses.md"), cwd=tmp_path)
    assert result.returncode == 2
    assert "NEWSBOT_SECTION_TARGET" in result.stderr and "Traceback" not in result.stderr
