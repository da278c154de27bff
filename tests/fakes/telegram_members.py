"""ChatMember objects per status, with every field python-telegram-bot 22 requires for each subclass."""

from __future__ import annotations

from typing import Any, Final

from tests.fakes.telegram_models import JSON

# Rights of an administrator the fake creates: a typical moderator who may delete messages.
_ADMIN_RIGHTS: Final = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}
_RESTRICTED_PERMISSIONS: Final = {
    "is_member": True,
    "can_send_messages": True,
    "can_send_audios": False,
    "can_send_documents": False,
    "can_send_photos": False,
    "can_send_videos": False,
    "can_send_video_notes": False,
    "can_send_voice_notes": False,
    "can_send_polls": False,
    "can_send_other_messages": False,
    "can_add_web_page_previews": False,
    "can_change_info": False,
    "can_invite_users": False,
    "can_pin_messages": False,
    "can_manage_topics": False,
    "can_react_to_messages": True,
    "can_edit_tag": False,
    "until_date": 0,
}


def _admin_rights(chat_type: str) -> dict[str, Any]:
    """Like the server's json_store_administrator_rights, some flags exist only for some chat types."""
    rights: dict[str, Any] = dict(_ADMIN_RIGHTS)
    if chat_type == "channel":
        rights.update(can_post_messages=True, can_edit_messages=True)
    else:
        rights["can_pin_messages"] = True
    if chat_type == "supergroup":
        rights["can_manage_topics"] = False
    return rights


def member_object(user: JSON, status: str, chat_type: str) -> JSON:
    member: JSON = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(_admin_rights(chat_type))
    elif status == "restricted":
        member.update(_RESTRICTED_PERMISSIONS)
    elif status == "kicked":
        member["until_date"] = 0
    return member
