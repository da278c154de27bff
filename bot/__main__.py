"""`python -m bot`: long polling until SIGTERM/SIGINT, then finish the work in hand, close the database, exit 0."""

from __future__ import annotations

import logging
import sys

from telegram import Update
from telegram.error import InvalidToken

from bot.config import ConfigError, load_settings
from bot.logs import configure_logging
from bot.telegram.app import build_application


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    secrets = (settings.telegram_bot_token.reveal(), settings.dashscope_api_key.reveal())
    configure_logging(settings.log_level, secrets=secrets)
    application = build_application(settings)
    try:
        application.run_polling(allowed_updates=Update.ALL_TYPES, close_loop=False)
    except InvalidToken:
        logging.getLogger("bot").error("Telegram rejected TELEGRAM_BOT_TOKEN")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
