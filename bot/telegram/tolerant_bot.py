"""An ExtBot that never lets one unparsable update stall polling.

PTB parses a getUpdates batch as a whole; when one update cannot be parsed (a newer Bot API object that this PTB
version does not know how to read), the whole batch raises, the offset never advances, and the same batch is
fetched again forever: the bot stops working. Here such an update is replaced by a bare `Update(update_id)`, which
no handler matches, so the offset moves past it and everything else is processed. The update is logged.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.ext import ExtBot

log = logging.getLogger(__name__)


def parsable_updates(raw: list[dict[str, Any]], bot: ExtBot[Any]) -> list[dict[str, Any]]:
    """Each raw update as it came, or reduced to its update_id when PTB cannot read it."""
    kept: list[dict[str, Any]] = []
    for update in raw:
        try:
            Update.de_json(dict(update), bot)
        except Exception as exc:
            log.warning("unreadable update skipped", extra={"update_id": update.get("update_id"),
                                                             "error": f"{type(exc).__name__}: {exc}"})
            kept.append({"update_id": update["update_id"]})
        else:
            kept.append(update)
    return kept


class TolerantBot(ExtBot[Any]):
    async def _post(self, endpoint: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        result = await super()._post(endpoint, data, **kwargs)
        if endpoint == "getUpdates" and isinstance(result, list):
            return parsable_updates(result, self)
        return result
