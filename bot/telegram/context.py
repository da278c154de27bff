"""The handlers' typed context: what every handler reaches through `context.bot_data`, set once at start-up.

PTB builds one `BotData` per application (ContextTypes, as in PTB's own contexttypesbot example), so handlers get
attributes with types instead of string keys and casts.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

from bot.telegram.admin import AdminChecker
from bot.telegram.gateway import TelegramGateway
from bot.wiring import Services


class NotStarted(RuntimeError):
    """A handler ran before post_init attached the services (or after shutdown removed them)."""


class BotData:
    def __init__(self) -> None:
        self._services: Services | None = None
        self._admins: AdminChecker | None = None
        self._gateway: TelegramGateway | None = None

    def attach(self, services: Services, admins: AdminChecker, gateway: TelegramGateway) -> None:
        self._services, self._admins, self._gateway = services, admins, gateway

    def detach(self) -> Services | None:
        services, self._services = self._services, None
        return services

    @property
    def services(self) -> Services:
        if self._services is None:
            raise NotStarted("the bot's services are not running")
        return self._services

    @property
    def admins(self) -> AdminChecker:
        if self._admins is None:
            raise NotStarted("the admin checker is not set up")
        return self._admins

    @property
    def gateway(self) -> TelegramGateway:
        if self._gateway is None:
            raise NotStarted("the gateway is not set up")
        return self._gateway


Context = CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)
BotApp = Application[Any, Context, dict[Any, Any], dict[Any, Any], BotData, Any]
