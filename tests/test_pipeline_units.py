"""Pure unit tests of the pipeline's decisions and the reply formatting (no network, no Telegram)."""

from __future__ import annotations

from dataclasses import replace

from bot.core.breaker import CircuitBreaker
from bot.core.chat_settings import Parsed, parse_settings_args
from bot.core.failures import backoff_delay
from bot.core.importer import IMPORTED_FILE_ID
from bot.core.ingest import job_key
from bot.core.repost import AlertPacer, MemoryAlertLedger, alerts_enabled_for, repost_verdict
from bot.core.types import ChatRef, FileRef, IncomingMedia, MediaRef, Sender
from bot.replies import format as fmt
from bot.replies.i18n import language_of
from bot.telegram.gateway import split_text
from storage.models import ChatSettings, Item


def item(item_id: int = 1, *, date: int = 1_700_000_000, name: str | None = "Ann <admin>",
         kind: str = "photo") -> Item:
    return Item(
        id=item_id,
        chat_id=-1001,
        message_id=40 + item_id,
        sender_id=5,
        sender_name=name,
        date=date,
        kind=kind,
        file_id=f"f{item_id}",
        file_unique_id=f"u{item_id}",
        caption=None,
        model="multimodal-embedding-v1",
        route="image",
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_links_by_chat_kind() -> None:
    assert fmt.message_link(ChatRef(-1001234567890, "supergroup"), 7) == "https://t.me/c/1234567890/7"
    assert fmt.message_link(ChatRef(-1001234567890, "supergroup", username="pub"), 7) == "https://t.me/pub/7"
    assert fmt.message_link(ChatRef(-42, "group"), 7) is None
    assert fmt.message_link(ChatRef(42, "private"), 7) is None


def test_alert_escapes_names_and_states_identical() -> None:
    out = fmt.repost_alert(
        ChatRef(-1001234567890, "supergroup"), 99, fmt.Hit(item(), 1.0, identical=True), "en"
    )
    assert out.reply_to == 99 and out.media == ()  # a link shows the original: no third copy of it in the chat
    assert out.text_html is not None and "https://t.me/c/1234567890/" in out.text_html
    assert "Ann &lt;admin&gt;" in out.text_html and "identical" in out.text_html and "%" not in out.text_html


def test_imported_items_are_linked_beside_the_media_that_can_be_sent() -> None:
    chat = ChatRef(-1001234567890, "supergroup", username="pub")
    old = replace(item(2, name="Bob"), file_id=IMPORTED_FILE_ID)
    out = fmt.matches_reply(chat, 5, [fmt.Hit(item(1), 0.9), fmt.Hit(old, 0.8)], "Header", "en")
    assert [media.file_id for media in out.media] == ["f1"]
    assert out.text_html is not None
    assert out.text_html.startswith("Header\n• 80% · Bob · ") and "https://t.me/pub/42" in out.text_html
    alert = fmt.repost_alert(chat, 9, fmt.Hit(old, 0.97), "en")
    assert alert.media == () and alert.text_html is not None and "https://t.me/pub/42" in alert.text_html


def test_alert_resends_the_original_only_where_no_link_reaches_it() -> None:
    basic = fmt.repost_alert(ChatRef(-42, "group"), 99, fmt.Hit(item(), 0.97), "en")
    assert [m.file_id for m in basic.media] == ["f1"] and "t.me" not in (basic.text_html or "")
    sticker = fmt.repost_alert(ChatRef(-42, "group"), 99, fmt.Hit(item(kind="sticker"), 0.97), "en")
    assert sticker.media == ()  # a sticker has no caption: it would take two messages


def test_percent_is_honest() -> None:
    assert fmt.percent(0.956) == "95.6"
    assert fmt.percent(0.9999) == "99.9"  # never rounded up to 100: only the same file is "identical"
    assert fmt.percent(1.0000001) == "99.9"
    assert fmt.percent(0.97) == "97"
    assert fmt.percent(-0.2) == "0"


def test_repost_verdict_prefers_identical_then_threshold() -> None:
    near = fmt.Hit(item(2), 0.97)
    same = fmt.Hit(item(3, date=1), 1.0, identical=True)
    assert repost_verdict([near, same], 0.95) is same
    assert repost_verdict([near], 0.95) is near
    assert repost_verdict([fmt.Hit(item(2), 0.94)], 0.95) is None
    assert repost_verdict([], 0.95) is None


def test_sticker_alerts_off_by_default() -> None:
    defaults = ChatSettings()
    assert not alerts_enabled_for("sticker", defaults)
    assert alerts_enabled_for("animation", defaults) and alerts_enabled_for("photo", defaults)


async def test_pacer_window() -> None:
    clock = Clock()
    pacer = AlertPacer(2, MemoryAlertLedger(clock))
    assert await pacer.try_acquire(1) and await pacer.try_acquire(1)
    assert not await pacer.try_acquire(1)
    assert await pacer.try_acquire(2)  # per chat
    clock.now += 60
    assert await pacer.try_acquire(1)


def test_breaker_opens_once_probes_and_closes() -> None:
    clock = Clock()
    breaker = CircuitBreaker(first_probe_after=10, clock=clock)
    assert breaker.allow()
    assert breaker.record_account_failure() is True
    assert breaker.record_account_failure() is False  # told once
    assert not breaker.allow()
    clock.now += 10
    assert breaker.allow()  # the probe
    assert not breaker.allow()
    assert breaker.record_success() is True
    assert breaker.allow() and breaker.record_success() is False


def test_backoff_grows_caps_and_honours_hint() -> None:
    assert 2.0 <= backoff_delay(0) <= 2.5
    assert 8.0 <= backoff_delay(2) <= 10.0
    assert backoff_delay(30) <= 600 * 1.25
    assert backoff_delay(0, hint=42.0) == 42.0


def test_settings_args() -> None:
    assert parse_settings_args([]) == Parsed({})
    assert parse_settings_args(["threshold", "93"]) == Parsed({}, preview=0.93)  # typed: previewed first
    assert parse_settings_args(["threshold", "93"], preview_threshold=False) == Parsed({"repost_threshold": 0.93})
    assert parse_settings_args(["threshold", "0.9"]) == Parsed({}, preview=0.9)
    assert parse_settings_args(["threshold", "default"]) == Parsed({"repost_threshold": None})
    assert parse_settings_args(["threshold", "20"]) == Parsed({}, problem="threshold_range")
    assert parse_settings_args(["threshold", "200"]) == Parsed({}, problem="threshold_range")
    assert parse_settings_args(["stickers", "on"]) == Parsed({"alert_stickers": True})
    assert parse_settings_args(["gifs", "off"]) == Parsed({"alert_animations": False})
    assert parse_settings_args(["alert", "reaction"]) == Parsed({"alert_style": "reaction"})
    assert parse_settings_args(["leeway", "48"]) == Parsed({"own_repost_hours": 48})
    assert parse_settings_args(["leeway", "721"]) == Parsed({}, problem="leeway_range")
    assert parse_settings_args(["language", "zh"]) == Parsed({"language": "zh"})
    assert parse_settings_args(["colour", "blue"]) == Parsed({}, problem="unknown")


def test_split_text_keeps_lines_and_limit() -> None:
    text = "\n".join(f"line {i} " + "x" * 50 for i in range(200))
    chunks = split_text(text, limit=1000)
    assert all(len(c) <= 1000 for c in chunks)
    assert "\n".join(chunks) == text


def test_language_detection() -> None:
    assert language_of("zh-hans") == "zh" and language_of("zh") == "zh"
    assert language_of("en") == "en" and language_of(None) == "en" and language_of("ru") == "en"


def test_payload_roundtrip_and_job_keys() -> None:
    incoming = IncomingMedia(
        chat=ChatRef(-1001, "supergroup", username=None, title="T"),
        message_id=5,
        sender=Sender(1, "A", "en"),
        date=1,
        media=MediaRef(
            kind="video", file=FileRef("f", "u", 10), mime_type="video/mp4", thumbnail=FileRef("t", "tu", 1)
        ),
        caption="c",
        media_group_id="g",
    )
    assert IncomingMedia.from_payload(incoming.to_payload()) == incoming
    assert job_key(incoming) == "ingest:-1001:5"
    edited = IncomingMedia.from_payload({**incoming.to_payload(), "edit_date": 9})
    assert job_key(edited).startswith("edit:-1001:5:9:")
    assert job_key(edited) == job_key(IncomingMedia.from_payload(edited.to_payload()))  # redelivery: same job
    recaptioned = IncomingMedia.from_payload({**edited.to_payload(), "caption": "other"})
    assert job_key(recaptioned) != job_key(edited)  # a second edit in the same second is its own job
