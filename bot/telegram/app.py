"""The PTB Application, pointed at TELEGRAM_API_URL, with the services started and stopped around polling.

`run_polling` calls post_init → polling → (signal) → post_stop → post_shutdown; tests drive the same hooks
against a fake Bot API so that start-up and shutdown are exercised exactly as in production.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from telegram import BotCommand
from telegram.ext import AIORateLimiter, ApplicationBuilder
from telegram.request import HTTPXRequest

from bot.config import Settings
from bot.observability import metrics
from bot.observability.server import MetricsServer
from bot.replies.i18n import Lang, t
from bot.replies.render import render
from bot.telegram import register
from bot.telegram.admin import AdminChecker
from bot.telegram.context import CONTEXT_TYPES, BotApp
from bot.telegram.gateway import TelegramGateway
from bot.telegram.ordering import PerChatOrderedProcessor
from bot.telegram.tolerant_bot import TolerantBot
from bot.tls import tls_context
from bot.wiring import Services

log = logging.getLogger(__name__)

MENU = ("similar", "search", "stats", "settings", "forget", "mydata", "purge", "privacy", "help")
CONCURRENT_UPDATES = 16
RATE_LIMIT_RETRIES = 3
REQUEST_POOL_SIZE = 256  # PTB's own default for everything but getUpdates



class ConfirmWhenHandled(HTTPXRequest):
    """The getUpdates connection, confirming updates to Telegram only once they have been handled.

    Each getUpdates call confirms (and makes Telegram forget) every update below its offset. PTB asks for the next
    batch as soon as the previous one is in its in-memory queue, so a crash right then would lose a whole batch that
    no handler has seen. Waiting for that queue to drain first means a media update is confirmed only after its job
    is in SQLite. Commands do not hold this up: their handlers run without blocking (see bot.telegram.register).
    """

    def __init__(self, update_queue: asyncio.Queue[object]) -> None:
        super().__init__(connection_pool_size=1, httpx_kwargs={"verify": tls_context()})
        self._update_queue = update_queue

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        await self._update_queue.join()
        return await super().do_request(*args, **kwargs)


class AnsweredWhenHandled(asyncio.Queue[object]):
    """The update queue in webhook mode: PTB's webhook answers Telegram 200 as soon as `put` returns, and Telegram
    then forgets the update. Returning only once the queue has drained means a media update is answered only after
    its job is stored; a crash before that leaves Telegram to deliver it again (the job key makes that harmless)."""

    async def put(self, item: object) -> None:
        await super().put(item)
        await self.join()


def command_menu(lang: Lang) -> list[BotCommand]:
    return [BotCommand(name, t(f"cmd_{name}", lang)) for name in MENU]


async def set_command_menu(application: BotApp) -> None:
    await application.bot.set_my_commands(command_menu("en"))
    await application.bot.set_my_commands(command_menu("zh"), language_code="zh")


def build_application(settings: Settings) -> BotApp:
    metrics_server: MetricsServer | None = None

    async def post_init(application: BotApp) -> None:
        nonlocal metrics_server
        gateway = TelegramGateway(application.bot)
        services = await Services.start(settings, gateway, render)
        application.bot_data.attach(services, AdminChecker(application.bot, settings.admin_cache_seconds), gateway)
        await set_command_menu(application)
        if settings.metrics_listen is not None:
            metrics_server = observed(application, services, settings.metrics_listen)
            await metrics_server.start()
        log.info("bot started", extra={"username": application.bot.username, "model": settings.embedding.space,
                                       "mode": "webhook" if settings.webhook_url else "polling"})

    async def post_stop(application: BotApp) -> None:
        if metrics_server is not None:
            await metrics_server.stop()
        await application.bot_data.services.stop()

    async def post_shutdown(application: BotApp) -> None:
        services = application.bot_data.detach()
        if services is not None:
            await services.close()
        log.info("bot stopped")

    root = settings.telegram_api_url
    update_queue: asyncio.Queue[object] = AnsweredWhenHandled() if settings.webhook_url else asyncio.Queue()
    bot = TolerantBot(
        token=settings.telegram_bot_token.reveal(),
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        local_mode=settings.telegram_local_mode,
        rate_limiter=AIORateLimiter(max_retries=RATE_LIMIT_RETRIES),
        request=HTTPXRequest(connection_pool_size=REQUEST_POOL_SIZE, httpx_kwargs={"verify": tls_context()}),
        get_updates_request=ConfirmWhenHandled(update_queue),
    )
    application: BotApp = (
        ApplicationBuilder()
        .bot(bot)
        .update_queue(update_queue)
        .context_types(CONTEXT_TYPES)
        .concurrent_updates(PerChatOrderedProcessor(CONCURRENT_UPDATES))
        .post_init(post_init)
        .post_stop(post_stop)
        .post_shutdown(post_shutdown)
        .build()
    )
    register(application)
    return application


def observed(application: BotApp, services: Services, listen: tuple[str, int]) -> MetricsServer:
    """/healthz is healthy while the database answers and updates are being taken (polling or the webhook)."""

    async def healthy() -> bool:
        await services.store.db.ping()
        updater = application.updater
        return application.running and updater is not None and updater.running

    async def refresh() -> None:
        depth, oldest = await services.store.jobs.backlog()
        metrics.QUEUE_DEPTH.set(depth)
        metrics.QUEUE_OLDEST_AGE.set(0 if oldest is None else max(0.0, time.time() - oldest))

    return MetricsServer(*listen, healthy=healthy, refresh=refresh)
