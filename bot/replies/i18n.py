"""Every sentence the bot says, in English and Chinese.

Templates are HTML (Telegram's parse_mode=HTML). Placeholders receive values that the caller has already escaped, so
no template ever interpolates raw user text.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "zh"]

_TEXTS: dict[str, dict[Lang, str]] = {
    "help": {
        "en": (
            "<b>I find similar media in this chat.</b>\n\n"
            "Send photos, videos, GIFs or stickers: I remember each one and point out reposts.\n"
            "• /similar — reply to any media to see the most similar earlier posts\n"
            "• /search &lt;words&gt; — find pictures and videos by description\n"
            "• /stats — what I hold for this chat (admins)\n"
            "• /settings — repost threshold and alert options (admins)\n\n"
            "<b>What I store:</b> embedding vectors, Telegram file ids, message ids, sender ids and names, captions. "
            "Never the media itself.\n"
            "<b>In groups</b> I need privacy mode turned off (via @BotFather, then re-add me) or admin rights to see "
            "the media people post."
        ),
        "zh": (
            "<b>我会在本聊天中查找相似的媒体。</b>\n\n"
            "发送图片、视频、GIF 或贴纸：我会记住每一条并指出重复发布。\n"
            "• /similar — 回复任意媒体，查看最相似的早先内容\n"
            "• /search &lt;文字&gt; — 按描述查找图片和视频\n"
            "• /stats — 本聊天的数据统计（管理员）\n"
            "• /settings — 重复阈值与提醒选项（管理员）\n\n"
            "<b>我保存的内容：</b>向量、Telegram 文件 ID、消息 ID、发送者 ID 和名称、说明文字。从不保存媒体本身。\n"
            "<b>在群组中</b>我需要关闭隐私模式（通过 @BotFather 设置后重新添加我）或拥有管理员权限才能看到媒体。"
        ),
    },
    "cmd_similar": {
        "en": "Most similar earlier media (reply to a media message)",
        "zh": "查找相似的早先媒体（回复一条媒体消息）",
    },
    "cmd_search": {"en": "Find pictures and videos by words", "zh": "按文字查找图片和视频"},
    "cmd_stats": {"en": "What the bot holds for this chat (admins)", "zh": "本聊天的统计（管理员）"},
    "cmd_settings": {"en": "Repost threshold and alerts (admins)", "zh": "重复阈值与提醒设置（管理员）"},
    "cmd_help": {"en": "What this bot does and stores", "zh": "本机器人的功能与存储内容"},
    "repost_identical": {
        "en": "🔁 <b>Repost</b>: identical to this, posted by {who} on {when}.{link}",
        "zh": "🔁 <b>重复发布</b>：与 {who} 于 {when} 发布的内容完全相同。{link}",
    },
    "repost_similar": {
        "en": "🔁 <b>Possible repost</b>: {score}% similar to this, posted by {who} on {when}.{link}",
        "zh": "🔁 <b>疑似重复</b>：与 {who} 于 {when} 发布的内容相似度 {score}%。{link}",
    },
    "album_repost_header": {
        "en": "🔁 <b>Reposts in this album</b>:",
        "zh": "🔁 <b>此相册中的重复内容</b>：",
    },
    "album_repost_line": {
        "en": "• item {n}: {score} — {who}, {when}{link}",
        "zh": "• 第 {n} 项：{score} — {who}，{when}{link}",
    },
    "identical": {"en": "identical", "zh": "完全相同"},
    "link": {"en": " <a href=\"{url}\">Original</a>", "zh": " <a href=\"{url}\">原消息</a>"},
    "match_caption": {"en": "{score} · {who} · {when}{link}", "zh": "{score} · {who} · {when}{link}"},
    "first_seen": {
        "en": "✨ First time I see this. I'll remember it.",
        "zh": "✨ 第一次见到这个，我记住了。",
    },
    "matches_header": {"en": "Most similar earlier media:", "zh": "最相似的早先媒体："},
    "similar_usage": {
        "en": "Reply to a photo, video, GIF or sticker with /similar to see what it resembles.",
        "zh": "请用 /similar 回复一张图片、视频、GIF 或贴纸。",
    },
    "similar_none": {
        "en": "Nothing similar in this chat yet.",
        "zh": "本聊天中还没有相似的内容。",
    },
    "search_usage": {
        "en": "Usage: <code>/search words</code>, for example <code>/search red car at night</code>",
        "zh": "用法：<code>/search 文字</code>，例如 <code>/search 夜晚的红色汽车</code>",
    },
    "search_none": {
        "en": "No picture or video matches “{query}” with enough confidence.",
        "zh": "没有找到与“{query}”足够匹配的图片或视频。",
    },
    "search_header": {"en": "Best matches for “{query}”:", "zh": "“{query}”的最佳匹配："},
    "not_admin": {
        "en": "Sorry, only the admins of this chat can use this command.",
        "zh": "抱歉，只有本聊天的管理员可以使用此命令。",
    },
    "unsupported": {
        "en": "I can only compare photos, videos, GIFs and stickers.",
        "zh": "我只能比较图片、视频、GIF 和贴纸。",
    },
    "corrupt": {
        "en": "I couldn't read this file: it seems damaged or is not what its name says.",
        "zh": "无法读取此文件：它可能已损坏或格式与名称不符。",
    },
    "too_large": {
        "en": "This file is too large for me to process.",
        "zh": "此文件太大，我无法处理。",
    },
    "rejected": {
        "en": "The embedding service refused this item ({reason}).",
        "zh": "向量服务拒绝了此内容（{reason}）。",
    },
    "service_down": {
        "en": "The embedding service is unavailable right now. Your item is queued and will be processed later.",
        "zh": "向量服务暂时不可用。您的内容已排队，稍后处理。",
    },
    "queued_paused": {
        "en": ("⏳ The embedding service is paused right now. Your media is queued: I'll answer each one as soon as "
               "it works again."),
        "zh": "⏳ 向量服务暂时暂停。您的媒体已排队：服务恢复后我会逐条回复。",
    },
    "command_slow": {
        "en": "⌛ The embedding service is slow or down right now, so I couldn't answer. Please try again later.",
        "zh": "⌛ 向量服务目前缓慢或不可用，无法回答。请稍后再试。",
    },
    "command_account": {
        "en": "⚠️ The embedding service rejected this bot's API key. The bot's operators have been told.",
        "zh": "⚠️ 向量服务拒绝了本机器人的 API 密钥。已通知机器人的运营者。",
    },
    "over_cap": {
        "en": "The daily limit of embedding requests for this chat has been reached; try again tomorrow.",
        "zh": "本聊天今日的向量请求额度已用完，请明天再试。",
    },
    "error": {
        "en": "Something went wrong while processing this. It has been logged.",
        "zh": "处理时出错，已记录日志。",
    },
    "stats_title": {"en": "<b>Stats for {chat}</b>", "zh": "<b>{chat} 的统计</b>"},
    "stats_body": {
        "en": (
            "Items: {items} ({by_kind})\nEmbedded via: {by_route}\nReposts called out: {reposts}\n"
            "Top posters: {posters}\nAPI requests: {requests} · tokens: {tokens} (text {text_tokens}, image "
            "{image_tokens})\nQueue: {pending} pending, {failed} failed, {skipped} skipped over the daily cap\n"
            "Index: {index_size} vectors"
        ),
        "zh": (
            "媒体数：{items}（{by_kind}）\n向量化方式：{by_route}\n已提醒重复：{reposts}\n"
            "发布最多：{posters}\nAPI 请求：{requests} · tokens：{tokens}（文本 {text_tokens}，图像 "
            "{image_tokens}）\n队列：待处理 {pending}，失败 {failed}，因每日额度跳过 {skipped}\n"
            "索引：{index_size} 个向量"
        ),
    },
    "stats_failures": {"en": "Recent failures:", "zh": "最近的失败："},
    "stats_none": {"en": "none", "zh": "无"},
    "stats_overview_title": {"en": "<b>All chats</b> ({count})", "zh": "<b>所有聊天</b>（{count}）"},
    "settings_show": {
        "en": (
            "<b>Settings</b>\nRepost threshold: {threshold}%{default}\nAlerts for stickers: {stickers}\n"
            "Alerts for GIFs: {gifs}\n\nChange with <code>/settings threshold 93</code>, "
            "<code>/settings stickers on|off</code>, <code>/settings gifs on|off</code>, "
            "<code>/settings threshold default</code>."
        ),
        "zh": (
            "<b>设置</b>\n重复阈值：{threshold}%{default}\n贴纸提醒：{stickers}\nGIF 提醒：{gifs}\n\n"
            "修改：<code>/settings threshold 93</code>、<code>/settings stickers on|off</code>、"
            "<code>/settings gifs on|off</code>、<code>/settings threshold default</code>。"
        ),
    },
    "settings_default_mark": {"en": " (default)", "zh": "（默认）"},
    "settings_usage": {
        "en": "I didn't understand that setting. Send /settings to see the options.",
        "zh": "无法识别该设置。发送 /settings 查看可用选项。",
    },
    "on": {"en": "on", "zh": "开"},
    "off": {"en": "off", "zh": "关"},
    "operator_auth": {
        "en": "⚠️ DashScope rejected the API key or the account ({code}). Embedding is paused until it works again.",
        "zh": "⚠️ DashScope 拒绝了 API 密钥或账户（{code}）。向量化已暂停，恢复后会自动继续。",
    },
    "operator_resumed": {
        "en": "✅ DashScope works again; embedding resumed.",
        "zh": "✅ DashScope 已恢复，向量化继续。",
    },
    "unknown_sender": {"en": "someone", "zh": "某人"},
}


def language_of(code: str | None) -> Lang:
    """Chinese for any `zh*` Telegram language code, English otherwise."""
    return "zh" if code and code.lower().startswith("zh") else "en"


def t(key: str, lang: Lang, **values: object) -> str:
    template = _TEXTS[key][lang]
    return template.format(**values) if values else template
