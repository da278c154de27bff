"""Inline buttons through the real PTB against the fake Bot API: under a text, under a media, and a press answered."""

from __future__ import annotations

from bot.core.types import ButtonOut, MediaOut, Outgoing
from tests.conftest import RunningBot
from tests.fakes.telegram import Chat, User
from tests.pictures import picture

GROUP = Chat(id=-1001666666666, type="supergroup", title="Buttons")
ALICE = User(id=31, first_name="Alice")
ROWS = ((ButtonOut("Yes", "t:1:yes"), ButtonOut("No", "t:1:no")),)
EXPECTED = {"inline_keyboard": [[{"text": "Yes", "callback_data": "t:1:yes"},
                                 {"text": "No", "callback_data": "t:1:no"}]]}


async def test_buttons_hang_under_a_long_text_s_last_chunk(bot: RunningBot) -> None:
    bot.tg.add_chat(GROUP)
    await bot.app.bot_data.gateway.send(Outgoing(GROUP.id, text_html="line\n" * 1500, buttons=ROWS))
    sent = bot.tg.sent_messages(GROUP.id)
    assert len(sent) == 2
    assert "reply_markup" not in sent[0] and sent[1]["reply_markup"] == EXPECTED


async def test_buttons_under_a_single_media_and_a_press_is_answered(bot: RunningBot) -> None:
    posted = bot.tg.send_photo(GROUP, ALICE, picture("red"))
    await bot.settle()
    file_id = posted["photo"][-1]["file_id"]
    await bot.app.bot_data.gateway.send(Outgoing(GROUP.id, text_html="pick", media=(MediaOut("photo", file_id),),
                                                 buttons=ROWS))
    (alert,) = [m for m in bot.tg.sent_messages(GROUP.id) if m["method"] == "sendPhoto"]
    assert alert["reply_markup"] == EXPECTED
    query = bot.tg.press_button(alert, ALICE, "t:1:yes")
    await bot.app.bot_data.gateway.answer_press(query["id"], "done")
    answered = bot.tg.calls("answerCallbackQuery")
    assert answered and answered[-1]["callback_query_id"] == query["id"] and answered[-1]["text"] == "done"
