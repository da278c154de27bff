"""The rules of text indexing that need no bot: what is long enough, and which earlier message is the original."""

from __future__ import annotations

from dataclasses import replace

from bot.core.results import Hit
from bot.core.texts import copied_original, worth_indexing
from storage.models import Item
from tests.support.storage import new_item


def _hit(item_id: int, sender_id: int | None, score: float = 0.99) -> Hit:
    return Hit(Item(**vars(replace(new_item(1, item_id, kind="text"), sender_id=sender_id)), id=item_id), score)


def test_four_words_or_eight_chinese_characters_are_worth_indexing() -> None:
    assert not worth_indexing("see you there")
    assert worth_indexing("see you there tomorrow")
    assert not worth_indexing("我们明天见吧")  # 6 characters: 3 words
    assert worth_indexing("我们明天下午三点见")  # 9 characters
    assert worth_indexing("明天 see you there")  # 1 word of Chinese and 3 of English
    assert not worth_indexing("   ")


def test_the_original_is_the_earliest_match_and_never_the_senders_own() -> None:
    assert copied_original([_hit(5, 2), _hit(3, 1, 0.97)], sender_id=9) == _hit(3, 1, 0.97)
    assert copied_original([_hit(5, 2), _hit(3, 9)], sender_id=9) is None  # they wrote it first
    assert copied_original([], sender_id=9) is None
    assert copied_original([_hit(4, None)], sender_id=None) == _hit(4, None)
