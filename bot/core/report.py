"""/stats: what the bot holds and did for a chat, or for every chat when an operator asks in private."""

from __future__ import annotations

from bot.core.neighbours import Neighbours
from bot.core.ports import ChatStore, JobQueue, StatsStore
from bot.core.reembed import Reembedder
from bot.core.results import Audience, ChatReport, Report


class ReportService:
    def __init__(self, stats: StatsStore, jobs: JobQueue, neighbours: Neighbours, chats: ChatStore,
                 reembedder: Reembedder, *, default_threshold: float) -> None:
        self._reembedder = reembedder
        self._stats = stats
        self._jobs = jobs
        self._neighbours = neighbours
        self._chats = chats
        self._default_threshold = default_threshold

    async def chat(self, to: Audience, title: str) -> Report:
        return Report(to, [await self._chat_report(to.chat.id, title)], overview=False)

    async def overview(self, to: Audience) -> Report:
        titles = await self._chats.titles()
        chats = [await self._chat_report(chat_id, titles.get(chat_id, str(chat_id))) for chat_id, _stats in
                 await self._stats.chats_overview()]
        return Report(to, chats, overview=True)

    async def _chat_report(self, chat_id: int, title: str) -> ChatReport:
        return ChatReport(title=title or str(chat_id), stats=await self._stats.chat_stats(chat_id),
                          index_size=await self._neighbours.index_size(chat_id),
                          failures=await self._jobs.recent_failures(chat_id),
                          settings=await self._chats.settings(chat_id), default_threshold=self._default_threshold,
                          reembedding=await self._reembedder.progress(chat_id))
