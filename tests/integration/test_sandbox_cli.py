"""`newsbot sandbox` as a user runs it: bad usage, and a real process stopped with Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.sandbox.botapi.server import DEFAULT_TOKEN
from tests.texts import REPO, SAMPLES

STARTUP = 60.0  # seconds: migrations and the samples' HTML parsing on a slow machine
_URL = re.compile(r"http://127\.0\.0\.1:\d+")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--port", "70000"], "--port must be between 0 and 65535, not 70000"),
        (["--api-port", "-1"], "--api-port must be between 0 and 65535, not -1"),
        (
            ["--port", "9000", "--api-port", "9000"],
            "the web chat and the Bot API cannot share port 9000",
        ),
        (["--samples", "/no/such/folder"], "no samples folder at /no/such/folder"),
    ],
)
def test_bad_usage_exits_2_with_one_line(args: list[str], reason: str) -> None:
    result = CliRunner().invoke(app, ["sandbox", *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == f"newsbot: {reason}"


def test_a_bad_setting_is_bad_usage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_OPERATORS", "editor")
    result = CliRunner().invoke(app, ["sandbox", "--port", "0", "--api-port", "0"])
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("newsbot: bad setting NEWSBOT_OPERATORS")


@dataclass
class Running:
    """A `newsbot sandbox` process, its banner, and the lines it printed since."""

    process: subprocess.Popen[str]
    banner: list[str]
    lines: queue.Queue[str]

    def stop_with_ctrl_c(self) -> tuple[str, str]:
        """Send SIGINT as a terminal's Ctrl-C does; the rest of stdout, and stderr."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        assert self.process.wait(timeout=30) == 0
        assert time.monotonic() - started < 10
        assert self.process.stderr is not None
        err = self.process.stderr.read()
        out = []
        with contextlib.suppress(queue.Empty):
            while True:
                out.append(self.lines.get(timeout=1))
        return "".join(out), err


@contextmanager
def sandbox_process(cwd: Path, *args: str, **env: str) -> Iterator[Running]:
    """Run `newsbot sandbox` on free ports until its banner is printed."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    environment.update(env, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", "0", "--api-port", "0", *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = process.stdout, process.stderr
    assert stdout is not None and stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    # A thread reads stdout, so that waiting for the banner can time out; select() on a
    # buffered text pipe would miss lines already read into the buffer.
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in iter(stdout.readline, "")], daemon=True
    )
    reader.start()
    try:
        banner: list[str] = []
        deadline = time.monotonic() + STARTUP
        while not banner or not banner[-1].startswith("Press Ctrl-C"):
            try:
                banner.append(lines.get(timeout=max(deadline - time.monotonic(), 0)).rstrip())
            except queue.Empty:
                process.kill()
                raise AssertionError(f"no banner; stderr: {stderr.read()}") from None
        yield Running(process, banner, lines)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)
        reader.join(timeout=10)
        stdout.close()
        stderr.close()


def get_json(url: str) -> Any:
    """GET a JSON document from the sandbox."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_sandbox_serves_on_loopback_and_stops_cleanly(tmp_path: Path) -> None:
    with sandbox_process(tmp_path, "--samples", str(SAMPLES)) as running:
        banner = running.banner
        text = "\n".join(banner)
        web, api = _URL.findall(text)[:2]
        assert banner[0] == f"newsbot sandbox: open {web} in a browser"
        # Without NEWSBOT_DATABASE_URL the sandbox keeps its own store in the current folder.
        assert "sqlite+aiosqlite:///sandbox.db; stored 5 sample articles" in text
        # The line that points the command line at the same store, from any folder.
        store = f"sqlite+aiosqlite:///{(tmp_path / 'sandbox.db').resolve()}"
        assert f"CLI        NEWSBOT_DATABASE_URL={store} newsbot articles" in text
        assert (tmp_path / "sandbox.db").exists()
        readers = get_json(f"{web}/api/readers")["readers"]
        assert [r["operator"] for r in readers] == [False, False, False, True, False]
        assert readers[-1]["channel"] is True  # the channel view
        me = get_json(f"{api}/bot{DEFAULT_TOKEN}/getMe")
        assert me["result"]["username"] == "newsbot_sandbox_bot"
        out, err = running.stop_with_ctrl_c()
    assert out.strip() == "stopping…"
    assert err == ""


def test_api_only_prints_the_url_and_token_for_another_bot(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere.db"
    with sandbox_process(
        tmp_path, "--api-only", NEWSBOT_DATABASE_URL=f"sqlite+aiosqlite:///{database}"
    ) as running:
        text = "\n".join(running.banner)
        api = re.search(r"Bot API\s+(http://\S+)", text)
        assert api is not None
        assert f"token      {DEFAULT_TOKEN}" in text
        assert (
            f"NEWSBOT_API_URL={api.group(1)} NEWSBOT_TOKEN={DEFAULT_TOKEN} "
            "NEWSBOT_OPERATORS=1004 newsbot run"
        ) in text
        me = get_json(f"{api.group(1)}/bot{DEFAULT_TOKEN}/getMe")
        assert me["ok"] is True
        _, err = running.stop_with_ctrl_c()
    assert err == ""
    assert not database.exists()  # no bot, so no store


def test_a_port_in_use_is_named_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app,
            ["sandbox", "--api-only", "--port", "0", "--api-port", str(port)],
        )
    assert result.exit_code == 1, result.output
    assert result.stderr.strip() == (
        f"newsbot: the Bot API cannot listen on 127.0.0.1:{port} (address already in use); "
        "choose another with --api-port"
    )
