"""The export reader: both shapes, the chat id rules, captions, left-out files, and every way a file can be bad."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from bot.export.chats import ExportChat
from bot.export.errors import ExportTruncated, NotABotChat, NotAnExport
from bot.export.messages import ExportMessage
from bot.export.reader import BadMessage, Entry, locate, read
from tests.support.exports import LEFT_OUT, ExportBuilder, whole_account


def entries(folder: Path) -> list[Entry]:
    return list(read(locate(folder)))


def test_single_chat_export_gives_the_chat_then_its_messages(tmp_path: Path) -> None:
    export = ExportBuilder(tmp_path)
    export.service(1)
    export.photo(2, b"jpeg", text=["look at ", {"type": "bold", "text": "this"}], from_id="user1001")
    export.message(3, text="just words")
    export.file(4, b"mp4", "clip.mp4", media_type="video_file", mime_type="video/mp4", folder="video_files",
                duration_seconds=7, from_id="channel555", sender="The Channel")
    chat, service, photo, text, video = entries(export.write())
    assert chat == ExportChat("Old group", "private_supergroup", 1234567890)
    assert isinstance(service, ExportMessage) and service.kind == "service"
    assert isinstance(photo, ExportMessage)
    assert (photo.id, photo.kind, photo.caption, photo.sender_id, photo.sender_name, photo.date) == (
        2, "photo", "look at this", 1001, "Alice", 1_600_000_002)
    assert photo.path == "photos/photo_2@13-09-2020_12-26-40.jpg" and photo.embeddable
    assert isinstance(text, ExportMessage) and text.kind == "text" and not text.embeddable
    assert isinstance(video, ExportMessage)
    assert (video.kind, video.sender_id, video.duration, video.mime_type) == ("video", -100555, 7.0, "video/mp4")


def test_whole_account_export_lists_each_chat_with_its_messages(tmp_path: Path) -> None:
    first, second = ExportBuilder(tmp_path), ExportBuilder(tmp_path)
    first.photo(10, b"a")
    second.photo(20, b"b")
    document = whole_account(first.chat(name="A", chat_type="public_supergroup", chat_id=111),
                             second.chat(name="B", chat_type="private_group", chat_id=222))
    found = entries(first.write(document))
    chats = [e for e in found if isinstance(e, ExportChat)]
    assert [(c.name, c.bot_chat_id, c.bot_type, c.whole_account) for c in chats] == [
        ("A", -100111, "supergroup", True), ("B", -222, "group", True)]
    assert [e.id for e in found if isinstance(e, ExportMessage)] == [10, 20]


@pytest.mark.parametrize(("chat_type", "bot_id", "bot_type"), [
    ("private_supergroup", -1001234567890, "supergroup"), ("public_channel", -1001234567890, "channel"),
    ("private_group", -1234567890, "group"), ("personal_chat", 1234567890, "private"),
    ("bot_chat", 1234567890, "private"),
])
def test_chat_id_follows_the_observed_mapping(chat_type: str, bot_id: int, bot_type: str) -> None:
    chat = ExportChat("x", chat_type, 1234567890)
    assert (chat.bot_chat_id, chat.bot_type) == (bot_id, bot_type)


def test_saved_messages_is_no_chat_a_bot_can_be_in() -> None:
    with pytest.raises(NotABotChat, match="saved_messages"):
        _ = ExportChat("Saved Messages", "saved_messages", 1).bot_chat_id


def test_left_out_files_are_told_apart_from_missing_media(tmp_path: Path) -> None:
    export = ExportBuilder(tmp_path)
    export.message(5, photo=LEFT_OUT)
    export.message(6, file=LEFT_OUT, media_type="video_file", mime_type="video/mp4", thumbnail=LEFT_OUT)
    export.file(7, b"ogg", "v.ogg", media_type="voice_message", mime_type="audio/ogg")
    export.file(8, b"tgs", "s.tgs", media_type="sticker", mime_type="application/x-tgsticker")
    _, photo, video, voice, sticker = entries(export.write())
    assert isinstance(photo, ExportMessage) and photo.file_left_out and photo.path is None
    assert isinstance(video, ExportMessage) and video.file_left_out and video.thumbnail is None
    assert isinstance(voice, ExportMessage) and voice.kind == "voice" and not voice.embeddable
    assert isinstance(sticker, ExportMessage) and sticker.sticker_format == "animated"


def test_result_json_itself_may_be_given(tmp_path: Path) -> None:
    export = ExportBuilder(tmp_path)
    export.photo(1, b"x")
    folder = export.write()
    assert locate(folder / "result.json") == locate(folder)


@pytest.mark.parametrize("content", [b"", b"not json at all", b'{"some": "other json"}', b"[1, 2, 3]"])
def test_a_file_that_is_not_an_export_is_refused(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "result.json").write_bytes(content)
    with pytest.raises(NotAnExport):
        entries(tmp_path)


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotAnExport, match="no such file"):
        locate(tmp_path / "nowhere")


def test_a_truncated_file_yields_everything_before_the_break_and_says_where(tmp_path: Path) -> None:
    export = ExportBuilder(tmp_path)
    for message_id in range(1, 6):
        export.photo(message_id, b"x")
    folder = export.write()
    text = (folder / "result.json").read_text()
    cut = text.index('"id": 4')
    (folder / "result.json").write_text(text[:cut + 12])
    got: list[Entry] = []
    with pytest.raises(ExportTruncated, match=r"after 3 messages \(last message id 3\)"):
        got.extend(read(locate(folder)))
    assert [e.id for e in got if isinstance(e, ExportMessage)] == [1, 2, 3]


def test_a_malformed_message_is_reported_and_reading_goes_on(tmp_path: Path) -> None:
    export = ExportBuilder(tmp_path)
    export.photo(1, b"x")
    export.messages.append({"type": "message", "text": "no id"})
    export.photo(3, b"y")
    found = entries(export.write())
    assert [type(e).__name__ for e in found] == ["ExportChat", "ExportMessage", "BadMessage", "ExportMessage"]
    bad = found[2]
    assert isinstance(bad, BadMessage) and "message 2" in bad.reason


@pytest.mark.slow  # builds and streams a large result.json
def test_memory_stays_bounded_whatever_the_file_size(tmp_path: Path) -> None:
    """Python allocations while reading a 2.5 MB result.json stay far below what loading it whole takes."""
    export = ExportBuilder(tmp_path)
    for message_id in range(1, 5_001):
        export.message(message_id, text=[f"line {message_id} ", {"type": "bold", "text": "x" * 400}])
    folder = export.write()
    assert (folder / "result.json").stat().st_size > 2_500_000
    tracemalloc.start()
    try:
        count = sum(1 for entry in read(locate(folder)) if isinstance(entry, ExportMessage))
        _, streaming_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        json.loads((folder / "result.json").read_bytes())
        _, whole_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 5_000
    assert streaming_peak < 500_000 < 10 * streaming_peak < whole_peak
