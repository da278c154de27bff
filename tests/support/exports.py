"""Builders of Telegram Desktop exports on disk, in the shapes the export notes describe: a test names the messages
and files that matter, the builder writes result.json (single chat or whole account) and the media files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEFT_OUT = "(File not included. Change data exporting settings to download.)"
BASE_DATE = 1_600_000_000


@dataclass
class ExportBuilder:
    folder: Path
    messages: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)

    def message(self, message_id: int, *, sender: str = "Alice", from_id: str = "user1001", text: Any = "",
                **media: Any) -> dict[str, Any]:
        message = {"id": message_id, "type": "message", "date": "2020-09-13T12:26:40",
                   "date_unixtime": str(BASE_DATE + message_id), "from": sender, "from_id": from_id,
                   "text": text, **media}
        self.messages.append(message)
        return message

    def photo(self, message_id: int, data: bytes, *, text: Any = "", **extra: Any) -> dict[str, Any]:
        path = f"photos/photo_{message_id}@13-09-2020_12-26-40.jpg"
        self.files[path] = data
        return self.message(message_id, text=text, photo=path, photo_file_size=len(data), **extra)

    def file(self, message_id: int, data: bytes, name: str, *, media_type: str | None, mime_type: str,
             folder: str = "files", **extra: Any) -> dict[str, Any]:
        path = f"{folder}/{name}"
        self.files[path] = data
        fields = {"file": path, "file_name": name, "file_size": len(data), "mime_type": mime_type}
        if media_type is not None:
            fields["media_type"] = media_type
        return self.message(message_id, **fields, **extra)

    def service(self, message_id: int) -> None:
        self.messages.append({"id": message_id, "type": "service", "date": "2020-09-13T12:26:40",
                              "date_unixtime": str(BASE_DATE + message_id), "action": "pin_message"})

    def chat(self, *, name: str = "Old group", chat_type: str = "private_supergroup",
             chat_id: int = 1234567890) -> dict[str, Any]:
        return {"name": name, "type": chat_type, "id": chat_id, "messages": self.messages}

    def write(self, document: dict[str, Any] | None = None) -> Path:
        """result.json (the single-chat shape unless `document` is given) and every file; returns the folder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for path, data in self.files.items():
            (self.folder / path).parent.mkdir(parents=True, exist_ok=True)
            (self.folder / path).write_bytes(data)
        (self.folder / "result.json").write_text(json.dumps(document or self.chat(), ensure_ascii=False, indent=1),
                                                 encoding="utf-8")
        return self.folder


def whole_account(*chats: dict[str, Any]) -> dict[str, Any]:
    return {"about": "Here is the data you requested.", "personal_information": {"user_id": 1001},
            "chats": {"about": "This page lists all chats from this export.", "list": list(chats)}}
