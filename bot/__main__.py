"""`python -m bot`: long polling (or a webhook server when WEBHOOK_URL is set) until SIGTERM/SIGINT, then finish
the work in hand, close the database, exit 0.

Exit codes: 0 after a clean stop, 2 on a configuration error (one line naming the variable), 3 when Telegram
rejects TELEGRAM_BOT_TOKEN, 4 when another bot process already serves the same SQLite database (with PostgreSQL
several may), 5 when the PostgreSQL database cannot be reached or used at start, 6 when Telegram cannot be reached
at start (a supervisor's restart then tries again). `python -m bot import-history …` imports a chat export instead
(bot.history).
"""

from __future__ import annotations

import logging
import sys
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bot.config import ConfigError, Settings, load_settings
from bot.history import main as import_history
from bot.logs import configure_logging
from bot.telegram.app import build_application
from storage.errors import DatabaseUnavailable
from storage.single_instance import AlreadyServing, InstanceLock

EXIT_CONFIG_ERROR = 2
EXIT_TOKEN_REJECTED = 3
EXIT_ALREADY_SERVING = 4
EXIT_DATABASE_UNAVAILABLE = 5
EXIT_TELEGRAM_UNREACHABLE = 6


def main() -> int:
    if sys.argv[1:2] == ["import-history"]:
        return import_history(sys.argv[2:])
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc} (see .env.example)", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    configure_logging(settings.log_level, secrets=settings.secrets)
    if settings.postgres_dsn is not None:
        return _serve(settings)  # PostgreSQL: several processes may serve one database
    try:
        lock = InstanceLock.acquire(settings.database_path)
    except AlreadyServing:
        print(f"another mediabot process already serves {settings.database_path}; with SQLite only one may run "
              "(stop it first)", file=sys.stderr)
        return EXIT_ALREADY_SERVING
    try:
        return _serve(settings)
    finally:
        lock.release()


def _serve(settings: Settings) -> int:
    application = build_application(settings)
    try:
        if settings.webhook_url:
            host, port = settings.webhook_listen
            application.run_webhook(
                listen=host, port=port, url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
                webhook_url=settings.webhook_url, allowed_updates=Update.ALL_TYPES, close_loop=False,
                secret_token=settings.webhook_secret.reveal() if settings.webhook_secret else None,
            )
        else:
            application.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)
    except InvalidToken:
        logging.getLogger("bot").error("Telegram rejected TELEGRAM_BOT_TOKEN")
        return EXIT_TOKEN_REJECTED
    except DatabaseUnavailable as exc:
        logging.getLogger("bot").error(str(exc))
        return EXIT_DATABASE_UNAVAILABLE
    except NetworkError as exc:  # start-up only: once running, PTB retries the network on its own
        logging.getLogger("bot").error("cannot reach Telegram", extra={"api": settings.telegram_api_url,
                                                                       "error": str(exc)})
        return EXIT_TELEGRAM_UNREACHABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
