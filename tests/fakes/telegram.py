"""A fake Telegram Bot API server that behaves like the real one on the wire.

Run python-telegram-bot (in-process or as a subprocess) against ``FakeBotAPI.root``; post photos, videos,
commands and edits as users would; then assert on what the bot sent. Requests are validated the way
telegram-bot-api validates them (HTML parsing, lengths, file ids, reply targets, chat access, 20 MB
downloads), so a bot that would fail against Telegram fails here too.

    with FakeBotAPI() as telegram:
        group = Chat(id=-1001, type="supergroup", title="Memes")
        alice = User(id=42, first_name="Alice")
        telegram.send_photo(group, alice, png_bytes)
        ...  # run the bot with TELEGRAM_API_URL=telegram.root
        reply = telegram.wait_for_sync(lambda: telegram.sent_messages(group.id))
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar, Unpack

from tests.fakes.telegram_dispatch import Dispatcher
from tests.fakes.telegram_files import StoredFile
from tests.fakes.telegram_incoming import Incoming, PostOptions, file_extension, new_callback_query_id
from tests.fakes.telegram_media import (
    animation_document,
    document_object,
    register_photo,
    remember,
    sticker_object,
    video_note_object,
    video_object,
)
from tests.fakes.telegram_members import member_object
from tests.fakes.telegram_methods_bot import scope_key
from tests.fakes.telegram_models import (
    JSON,
    ApiError,
    Chat,
    FileInfo,
    RecordedRequest,
    UploadedFile,
    User,
)
from tests.fakes.telegram_server import FakeHttpServer
from tests.fakes.telegram_world import World, now

__all__ = ["Chat", "FakeBotAPI", "FileInfo", "RecordedRequest", "UploadedFile", "User"]

T = TypeVar("T")
_POLL_INTERVAL = 0.01


class FakeBotAPI:
    """The fake server plus the controls a test needs: users' actions in, the bot's requests out."""

    def __init__(
        self,
        token: str = "123456:TEST-token_abc",
        *,
        bot_username: str = "mediabot_test_bot",
        bot_id: int = 123456,
        local_mode: bool = False,
        privacy_mode: bool = False,
    ) -> None:
        bot = User(id=bot_id, first_name="Media Bot", username=bot_username, language_code=None, is_bot=True)
        self.token = token
        self.bot = bot
        self.local_mode = local_mode
        self._world = World(bot, privacy_mode=privacy_mode)
        self._dispatcher = Dispatcher(self._world, token=token, local_mode=local_mode)
        self._incoming = Incoming(self._world)
        self._server: FakeHttpServer | None = None

    # ---- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._server is not None or self._world.updates.closed:
            raise RuntimeError("a FakeBotAPI runs once: it is running or was stopped")
        self._server = FakeHttpServer(self._dispatcher)
        self._server.start_background()

    def stop(self) -> None:
        if self._server is None:
            return
        self._world.updates.close()
        self._server.stop()
        self._server = None
        self._world.files.cleanup()

    def __enter__(self) -> FakeBotAPI:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def root(self) -> str:
        """What TELEGRAM_API_URL points at: ``http://127.0.0.1:<port>``."""
        if self._server is None:
            raise RuntimeError("start the fake Bot API first")
        return self._server.root

    @property
    def base_url(self) -> str:
        return f"{self.root}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root}/file/bot"

    # ---- what the bot did ------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        return self._dispatcher.recorded()

    def calls(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call of one Bot API method (any spelling), oldest first."""
        wanted = self._dispatcher.canonical(method)
        return [request.params for request in self.requests if request.method == wanted]

    def failed_requests(self) -> list[RecordedRequest]:
        """Requests the fake refused; a clean run of a correct bot usually has none."""
        return [request for request in self.requests if request.status is not None and request.status >= 400]

    def downloads(self) -> list[str]:
        """Raw paths of file downloads the bot made."""
        return [request.path for request in self.requests if request.method is None]

    def sent_messages(self, chat_id: int | None = None) -> list[JSON]:
        """Messages the bot sent, each the Message the fake returned plus ``method`` and ``params``."""
        with self._world.lock:
            sent = list(self._world.sent)
        return [message for message in sent if chat_id is None or message["chat"]["id"] == chat_id]

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The command menu the bot set for a scope and language (what getMyCommands would return)."""
        with self._world.lock:
            return list(self._world.commands.get((scope_key(self._world, scope), language_code), []))

    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by the bot."""
        return self._world.updates.pending()

    def last_update_id(self) -> int:
        """The update_id of the newest queued update (one below the first id while there is none)."""
        return self._world.updates.last_update_id

    def confirmed_offset(self) -> int:
        """The highest getUpdates offset the bot sent: every update below it was fetched and confirmed."""
        return self._world.updates.confirmed_offset

    def last_message_id(self, chat_id: int) -> int | None:
        """The newest message id in a chat, whoever posted it (None for a chat without messages)."""
        return self._world.last_message_id(chat_id)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Poll ``predicate`` until it returns something truthy, and return that."""
        deadline = time.monotonic() + timeout
        while True:  # predicates are arbitrary test conditions, so there is no event to await
            value = self._truthy_or_timeout(predicate, deadline, timeout)
            if value is not None:
                return value
            await asyncio.sleep(_POLL_INTERVAL)

    def wait_for_sync(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """``wait_for`` for synchronous tests (e.g. while the bot runs as a subprocess)."""
        deadline = time.monotonic() + timeout
        while (value := self._truthy_or_timeout(predicate, deadline, timeout)) is None:
            time.sleep(_POLL_INTERVAL)
        return value

    def _truthy_or_timeout(self, predicate: Callable[[], T], deadline: float, timeout: float) -> T | None:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            recent = [f"{request.method or 'download'} -> {request.status}" for request in self.requests[-10:]]
            raise TimeoutError(f"condition not met within {timeout}s; last requests: {recent}")
        return None

    # ---- world setup -----------------------------------------------------------------------------
    def add_chat(self, chat: Chat) -> None:
        """Make a chat known without a message in it (e.g. an operator's private chat)."""
        self._world.remember_chat(chat)

    def add_user(self, user: User) -> None:
        self._world.remember_user(user)

    def add_file(self, data: bytes, *, file_unique_id: str | None = None, file_size: int | None = None) -> FileInfo:
        """Register bytes under a new file_id; ``file_size`` may claim more than ``data`` holds."""
        return self._world.files.add(data, file_unique_id=file_unique_id, file_size=file_size).info()

    def file_bytes(self, file_id: str) -> bytes:
        """The bytes stored under a file id (e.g. a document the bot uploaded), as getFile + download would give."""
        stored = self._world.files.get(file_id)
        if stored is None:
            raise KeyError(file_id)
        return stored.data

    def lose_file(self, file_id: str) -> None:
        """The file is gone from Telegram (e.g. its message deleted and the file collected): sending it by file id
        answers "wrong file identifier/HTTP URL specified", getFile "invalid file_id"."""
        self._world.files.remove(file_id)

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """creator, administrator, member, restricted, left or kicked; for the bot this governs 403s."""
        self._world.set_status(chat_id, user_id, status)

    def inject_error(
        self,
        method: str,
        error_code: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` (optionally only for ``chat_id``) with this error."""
        parameters: JSON = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        error = ApiError(error_code, description, parameters or None)
        self._dispatcher.inject(method, error, times=times, chat_id=chat_id)

    # ---- updates: what people do -----------------------------------------------------------------
    def push_update(self, update: JSON) -> JSON:
        """Queue a raw update (its update_id is assigned here); messages in it become known to the fake."""
        kinds = [key for key in update if key != "update_id"]
        if len(kinds) != 1:
            raise ValueError("an update has exactly one field besides update_id")
        payload = update[kinds[0]]
        if isinstance(payload, dict) and "message_id" in payload and "chat" in payload:
            sender = payload.get("from")
            self._incoming.remember(
                Chat.from_dict(payload["chat"]), User.from_dict(sender) if sender else None, payload
            )
        return self._world.updates.push(kinds[0], payload)

    def send_text(self, chat: Chat, user: User | None, text: str, **options: Unpack[PostOptions]) -> JSON:
        return self._incoming.post(chat, user, self._incoming.text_content(text), options)

    def send_photo(
        self,
        chat: Chat,
        user: User | None,
        image: bytes,
        *,
        file_unique_id: str | None = None,
        file_size: int | None = None,
        **options: Unpack[PostOptions],
    ) -> JSON:
        """Sizes are rendered from ``image`` (90px, 320px, ... up to the original bytes as the largest)."""
        sizes = register_photo(self._world.files, image, file_unique_id=file_unique_id, file_size=file_size)
        return self._incoming.post(chat, user, {"photo": sizes}, options)

    def send_document(
        self,
        chat: Chat,
        user: User | None,
        data: bytes,
        *,
        mime_type: str,
        file_name: str,
        thumbnail: bytes | None = None,
        file_unique_id: str | None = None,
        file_size: int | None = None,
        **options: Unpack[PostOptions],
    ) -> JSON:
        stored = self._store(data, "document", file_extension(file_name, ""), file_unique_id, file_size)
        document = document_object(
            stored, mime_type=mime_type, file_name=file_name, thumbnail=self._incoming.thumbnail(thumbnail)
        )
        return self._incoming.post(chat, user, {"document": remember(stored, document)}, options)

    def send_video(
        self,
        chat: Chat,
        user: User | None,
        data: bytes,
        *,
        mime_type: str = "video/mp4",
        width: int = 640,
        height: int = 360,
        duration: int = 5,
        thumbnail: bytes | None = None,
        file_name: str | None = None,
        file_unique_id: str | None = None,
        file_size: int | None = None,
        **options: Unpack[PostOptions],
    ) -> JSON:
        stored = self._store(data, "video", file_extension(file_name, ".mp4"), file_unique_id, file_size)
        video = video_object(
            stored,
            width=width,
            height=height,
            duration=duration,
            mime_type=mime_type,
            file_name=file_name,
            thumbnail=self._incoming.thumbnail(thumbnail),
        )
        return self._incoming.post(chat, user, {"video": remember(stored, video)}, options)

    def send_animation(
        self,
        chat: Chat,
        user: User | None,
        data: bytes,
        *,
        mime_type: str = "video/mp4",
        width: int = 320,
        height: int = 240,
        duration: int = 3,
        thumbnail: bytes | None = None,
        file_name: str = "animation.gif.mp4",
        file_unique_id: str | None = None,
        file_size: int | None = None,
        **options: Unpack[PostOptions],
    ) -> JSON:
        """Like Telegram, the message carries the file twice: as ``animation`` and as ``document``."""
        stored = self._store(data, "animation", file_extension(file_name, ".mp4"), file_unique_id, file_size)
        animation = video_object(
            stored,
            width=width,
            height=height,
            duration=duration,
            mime_type=mime_type,
            file_name=file_name,
            thumbnail=self._incoming.thumbnail(thumbnail),
        )
        remember(stored, animation)
        content = {"animation": animation, "document": animation_document(animation)}
        return self._incoming.post(chat, user, content, options)

    def send_video_note(
        self,
        chat: Chat,
        user: User | None,
        data: bytes,
        *,
        length: int = 240,
        duration: int = 5,
        thumbnail: bytes | None = None,
        file_unique_id: str | None = None,
        file_size: int | None = None,
        **options: Unpack[PostOptions],
    ) -> JSON:
        stored = self._store(data, "video_note", ".mp4", file_unique_id, file_size)
        note = video_note_object(
            stored, length=length, duration=duration, thumbnail=self._incoming.thumbnail(thumbnail)
        )
        return self._incoming.post(chat, user, {"video_note": remember(stored, note)}, options)

    def send_sticker(
        self,
        chat: Chat,
        user: User | None,
        data: bytes,
        *,
        is_animated: bool = False,
        is_video: bool = False,
        emoji: str | None = "😀",
        thumbnail: bytes | None = None,
        file_unique_id: str | None = None,
        **options: Unpack[PostOptions],
    ) -> JSON:
        extension = ".tgs" if is_animated else ".webm" if is_video else ".webp"
        stored = self._store(data, "sticker", extension, file_unique_id, None)
        sticker = sticker_object(
            stored,
            is_animated=is_animated,
            is_video=is_video,
            emoji=emoji,
            thumbnail=self._incoming.thumbnail(thumbnail),
        )
        return self._incoming.post(chat, user, {"sticker": remember(stored, sticker)}, options)

    def _store(
        self, data: bytes, kind: str, extension: str, file_unique_id: str | None, file_size: int | None
    ) -> StoredFile:
        return self._world.files.add(
            data, kind=kind, extension=extension, file_unique_id=file_unique_id, file_size=file_size
        )

    def edit_message(self, original: JSON, **changes: Any) -> JSON:
        """Queue an ``edited_message`` (or ``edited_channel_post``) with ``changes`` applied."""
        return self._incoming.edit(original, changes)

    def press_button(self, message: JSON, user: User, data: str) -> JSON:
        """A user taps an inline button with ``callback_data`` on one of the bot's messages."""
        query_id = new_callback_query_id()
        query: JSON = {
            "id": query_id,
            "from": user.to_dict(),
            "message": {key: value for key, value in message.items() if key not in ("method", "params")},
            "chat_instance": str(message["chat"]["id"]),
            "data": data,
        }
        with self._world.lock:
            self._world.callback_queries.add(query_id)
        self._world.remember_user(user)
        self._world.updates.push("callback_query", query)
        return query

    def my_chat_member(self, chat: Chat, by_user: User, old_status: str, new_status: str) -> JSON:
        """The bot was added, promoted, removed or blocked: sets its status and queues ``my_chat_member``."""
        self._world.remember_chat(chat)
        self._world.remember_user(by_user)
        self._world.set_status(chat.id, self.bot.id, new_status)
        bot = self.bot.to_dict()
        payload = {
            "chat": chat.to_dict(),
            "from": by_user.to_dict(),
            "date": now(),
            "old_chat_member": member_object(bot, old_status, chat.type),
            "new_chat_member": member_object(bot, new_status, chat.type),
        }
        self._world.updates.push("my_chat_member", payload)
        return payload

    def migrate_chat(self, old: Chat, new_id: int, *, by_user: User | None = None) -> Chat:
        """Upgrade a group to a supergroup: both service messages are queued and the old id stops working."""
        new = Chat(id=new_id, type="supergroup", title=old.title, username=old.username)
        self._world.migrate(old, new)
        sender = {"from": by_user.to_dict()} if by_user else {}
        for chat, field, value in ((old, "migrate_to_chat_id", new_id), (new, "migrate_from_chat_id", old.id)):
            message = {
                "message_id": self._world.next_message_id(chat.id),
                "date": now(),
                "chat": chat.to_dict(),
                **sender,
                field: value,
            }
            self._incoming.remember(chat, by_user, message)
            self._world.updates.push("message", message)  # service messages pass privacy mode
        return new
