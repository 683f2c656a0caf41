"""The container's pieces, without a container engine: the entry point script, the health check
command, and the compose file (checked by `docker compose config` where a client exists).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect
from typer.testing import CliRunner

from bot.cli import app
from db.session import create_engine

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
BIN = Path(sys.executable).parent  # where `newsbot` is installed


def entrypoint(*command: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the image's entry point script here, with `newsbot` on PATH."""
    variables = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    variables["PATH"] = f"{BIN}{os.pathsep}{variables.get('PATH', '')}"
    variables.update(env)
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        env=variables,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def tables(database_url: str) -> set[str]:
    """The tables the database has."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(lambda c: inspect(c).get_table_names())
    finally:
        await engine.dispose()
    return set(names)


async def test_the_entrypoint_migrates_then_becomes_the_command(database_url: str) -> None:
    assert "alembic_version" not in await tables(database_url)
    # `$$` is the shell's own pid: with exec it is the entry point's, not a child's.
    done = await asyncio.to_thread(
        entrypoint, "sh", "-c", 'echo "pid $$"', NEWSBOT_DATABASE_URL=database_url
    )
    assert done.returncode == 0, done.stderr
    assert {"alembic_version", "articles", "broadcasts", "deliveries"} <= await tables(
        database_url
    )
    assert done.stdout.strip().splitlines()[-1].startswith("pid ")


def test_the_entrypoint_execs_the_command_in_its_own_process() -> None:
    # A command that prints its parent's pid: the shell that ran `exec` is gone from the chain.
    variables = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    variables["PATH"] = f"{BIN}{os.pathsep}{variables.get('PATH', '')}"
    variables["NEWSBOT_DATABASE_URL"] = "sqlite+aiosqlite:///:memory:"
    process = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "sh", "-c", "echo $$"],
        env=variables,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert out.strip().splitlines()[-1] == str(process.pid)


def test_the_entrypoint_gives_up_on_an_unreachable_database_without_showing_its_password() -> None:
    done = entrypoint(
        "true",
        NEWSBOT_DATABASE_URL="postgresql+asyncpg://newsbot:pw-Unseen42@127.0.0.1:1/newsbot",
        NEWSBOT_DB_WAIT="2",
    )
    assert done.returncode == 1
    assert "the database is not reachable" in done.stderr
    assert "pw-Unseen42" not in done.stderr + done.stdout


def test_healthcheck_without_an_endpoint_is_a_usage_error() -> None:
    result = CliRunner().invoke(app, ["healthcheck"], env={"NEWSBOT_METRICS_LISTEN": ""})
    assert result.exit_code == 2
    assert "NEWSBOT_METRICS_LISTEN" in result.output


def test_healthcheck_of_a_bot_that_does_not_answer_fails() -> None:
    result = CliRunner().invoke(
        app, ["healthcheck"], env={"NEWSBOT_METRICS_LISTEN": "127.0.0.1:1"}
    )
    assert result.exit_code == 1
    assert "did not answer" in result.output


def compose_command() -> list[str] | None:
    """`docker compose` or `docker-compose`, whichever this machine has."""
    if (
        shutil.which("docker")
        and (
            subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        ).returncode
        == 0
    ):
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(compose_command() is None, reason="no Docker Compose client on this machine")
def test_the_compose_file_is_valid_in_both_profiles(tmp_path: Path) -> None:
    command = compose_command()
    assert command is not None
    for name in ("docker-compose.yml", "Dockerfile", ".dockerignore"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docker", tmp_path / "docker")
    env_file = (ROOT / ".env.example").read_text()
    (tmp_path / ".env").write_text(
        env_file.replace("POSTGRES_PASSWORD=\n", "POSTGRES_PASSWORD=example1\n")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "POSTGRES_"))}

    def compose(*args: str) -> str:
        done = subprocess.run(
            [*command, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    compose("config", "-q")
    # Compose v1 lists every service here, v2 only those of the active profiles.
    assert {"postgres", "bot"} <= set(compose("config", "--services").split())
    scaled = set(compose("--profile", "scale", "config", "--services").split())
    assert scaled == {"postgres", "bot", "bot-2", "balancer"}
    # Without the password, compose refuses instead of starting an unprotected database.
    (tmp_path / ".env").write_text(env_file)
    done = subprocess.run(
        [*command, "config", "-q"], cwd=tmp_path, env=env, capture_output=True, check=False
    )
    assert done.returncode != 0
