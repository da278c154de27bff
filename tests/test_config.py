"""Configuration contract (CONFIG.md): names, defaults, one clear line for what is missing or malformed."""

from __future__ import annotations

import dataclasses
import logging
import traceback
from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, Settings, load_settings

BASE = {"TELEGRAM_BOT_TOKEN": "123:abc-DEF_1", "DASHSCOPE_API_KEY": "sk-1"}


def load(tmp_path: Path, **env: str) -> Settings:
    return load_settings({**BASE, **env}, dotenv_path=tmp_path / ".env")


def test_defaults(tmp_path: Path) -> None:
    s = load(tmp_path)
    assert s.telegram_api_url == "https://api.telegram.org"
    assert s.dashscope_base_url == "https://dashscope.aliyuncs.com/api/v1"
    assert s.embedding_model == "multimodal-embedding-v1"
    assert s.database_path == Path("data/mediabot.db")
    assert s.bot_admin_ids == frozenset()
    assert s.log_level == "INFO"
    assert s.download_limit_bytes == 20 * 1024 * 1024
    assert s.job_retention_days == 7
    assert load(tmp_path, JOB_RETENTION_DAYS="3").job_retention_days == 3


def test_database_url_relative_and_absolute(tmp_path: Path) -> None:
    assert load(tmp_path, DATABASE_URL="sqlite:///rel/x.db").database_path == Path("rel/x.db")
    assert load(tmp_path, DATABASE_URL="sqlite:////abs/x.db").database_path == Path("/abs/x.db")


def test_the_logs_hide_every_credential_the_configuration_holds(tmp_path: Path) -> None:
    full = load(tmp_path, DATABASE_URL="postgresql://bot:db-pass-9@db:5432/bot", WEBHOOK_SECRET="hook-secret_1",
                WEBHOOK_URL="https://bot.example.com/telegram")
    assert set(full.secrets) == {"123:abc-DEF_1", "sk-1", "hook-secret_1", "db-pass-9"}
    assert set(load(tmp_path, DATABASE_URL="postgresql://bot@db/bot").secrets) == {"123:abc-DEF_1", "sk-1"}


def test_admin_ids_and_trailing_slash(tmp_path: Path) -> None:
    s = load(tmp_path, BOT_ADMIN_IDS="1, 2,3", TELEGRAM_API_URL="http://127.0.0.1:8081/")
    assert s.bot_admin_ids == frozenset({1, 2, 3})
    assert s.telegram_api_url == "http://127.0.0.1:8081"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"TELEGRAM_BOT_TOKEN": ""}, "TELEGRAM_BOT_TOKEN"),
        ({"DASHSCOPE_API_KEY": ""}, "DASHSCOPE_API_KEY"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"EMBEDDING_MODEL": "gpt-4"}, "EMBEDDING_MODEL"),
        ({"DATABASE_URL": "postgres://x"}, "DATABASE_URL"),
        ({"BOT_ADMIN_IDS": "1,x"}, "BOT_ADMIN_IDS"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"TELEGRAM_API_URL": "ftp://x"}, "TELEGRAM_API_URL"),
        ({"REPOST_THRESHOLD": "1.5"}, "REPOST_THRESHOLD"),
        ({"JOB_RETENTION_DAYS": "0"}, "JOB_RETENTION_DAYS"),
        ({"JOB_RETENTION_DAYS": "a week"}, "JOB_RETENTION_DAYS"),
    ],
)
def test_bad_values_name_the_variable(tmp_path: Path, env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load(tmp_path, **env)


def test_dotenv_fills_in_but_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("TELEGRAM_BOT_TOKEN=1:fromfile\nDASHSCOPE_API_KEY=sk-file\nLOG_LEVEL=DEBUG\n")
    s = load_settings({"DASHSCOPE_API_KEY": "sk-env"}, dotenv_path=dotenv)
    assert s.telegram_bot_token.reveal() == "1:fromfile"
    assert s.dashscope_api_key.reveal() == "sk-env"
    assert s.log_level == "DEBUG"


SECRET_TOKEN = "123456:TOKEN-never-shown_42"
SECRET_KEY = "sk-key-never-shown-0123456789"


def secret_settings(tmp_path: Path) -> Settings:
    return load(tmp_path, TELEGRAM_BOT_TOKEN=SECRET_TOKEN, DASHSCOPE_API_KEY=SECRET_KEY)


def assert_hidden(text: str) -> None:
    assert SECRET_TOKEN not in text and SECRET_TOKEN.split(":")[1] not in text
    assert SECRET_KEY not in text


def test_settings_never_show_the_secrets(tmp_path: Path) -> None:
    s = secret_settings(tmp_path)
    assert s.telegram_bot_token.reveal() == SECRET_TOKEN and s.dashscope_api_key.reveal() == SECRET_KEY
    for text in (repr(s), str(s), f"{s}", f"{s!r}", format(s, ""), f"{s.telegram_bot_token}",
                 repr(s.dashscope_api_key), str(dataclasses.asdict(s)), repr(vars(s))):
        assert_hidden(text)
    assert Secret.MASK in repr(s)


def test_logging_settings_never_shows_the_secrets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A plain handler, not the redacting one: the Settings object itself must not leak."""
    s = secret_settings(tmp_path)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").debug("settings %s", s)
        logging.getLogger("test").debug("settings %r", s)
        logging.getLogger("test").debug(s)
    assert len(caplog.records) == 3
    assert_hidden(caplog.text)


def test_traceback_with_locals_never_shows_the_secrets(tmp_path: Path) -> None:
    def fails(settings: Settings) -> None:
        token = settings.telegram_bot_token
        raise RuntimeError(f"could not start with {token}")

    try:
        fails(secret_settings(tmp_path))
    except RuntimeError as exc:
        text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    assert "settings" in text and "token" in text
    assert_hidden(text)


def test_secrets_compare_by_value() -> None:
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b") and Secret("a") != "a"
