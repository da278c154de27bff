"""One chat's updates are handled in arrival order; other chats are not held up by a slow one."""

from __future__ import annotations

import asyncio

from telegram import Chat, Message, Update

from bot.telegram.ordering import PerChatOrderedProcessor


def update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, Chat.SUPERGROUP, title="t")
    message = Message(message_id=update_id, date=None, chat=chat)  # type: ignore[arg-type]
    return Update(update_id, message=message)


async def test_same_chat_in_order_other_chats_concurrently() -> None:
    processor = PerChatOrderedProcessor(8)
    done: list[int] = []
    release_slow = asyncio.Event()

    async def handle(update_id: int, *, slow: bool = False) -> None:
        if slow:
            await release_slow.wait()
        else:
            await asyncio.sleep(0.01 * (5 - update_id % 5))  # later updates would finish first if unordered
        done.append(update_id)

    tasks = [asyncio.create_task(processor.process_update(update(1, -1), handle(1, slow=True)))]
    tasks += [asyncio.create_task(processor.process_update(update(i, -1), handle(i))) for i in (2, 3, 4)]
    tasks += [asyncio.create_task(processor.process_update(update(i, -2), handle(i))) for i in (5, 6)]
    await asyncio.sleep(0.1)
    assert done == [6, 5] or done == [5, 6]  # chat -2 ran while chat -1 waits on its slow first update
    assert 2 not in done
    release_slow.set()
    await asyncio.gather(*tasks)
    assert [i for i in done if i <= 4] == [1, 2, 3, 4]
    assert processor._locks == {}  # idle chats are forgotten
