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
            "• /settings — repost threshold, alert options, retention (admins)\n"
            "• /forget — reply to your media or message to delete it; /forget me — delete everything you posted here\n"
            "• /mydata — (in private) what I hold about you, as a file\n"
            "• /purge — delete everything I hold about this chat (admins)\n"
            "• /privacy — exactly what I store and for how long\n\n"
            "<b>What I store:</b> embedding vectors, Telegram file ids, message ids, sender ids and names, captions, "
            "dates. Never the media itself. Kept until deleted with the commands above (or the chat's retention).\n"
            "<b>Text messages</b> are stored only where admins turn it on (<code>/settings text on</code>): then "
            "each message of at least 4 words (8 Chinese characters) is kept with its text, vector, sender, date "
            "and message id, found by /search, and a copy of someone else's message is pointed out.\n"
            "<b>In groups</b> I need privacy mode turned off (via @BotFather, then re-add me) or admin rights to see "
            "the media people post."
        ),
        "zh": (
            "<b>我会在本聊天中查找相似的媒体。</b>\n\n"
            "发送图片、视频、GIF 或贴纸：我会记住每一条并指出重复发布。\n"
            "• /similar — 回复任意媒体，查看最相似的早先内容\n"
            "• /search &lt;文字&gt; — 按描述查找图片和视频\n"
            "• /stats — 本聊天的数据统计（管理员）\n"
            "• /settings — 重复阈值、提醒选项与保留期限（管理员）\n"
            "• /forget — 回复自己的媒体或消息以删除它；/forget me — 删除您在此发布的全部内容\n"
            "• /mydata —（私聊）我保存的关于您的数据，以文件发送\n"
            "• /purge — 删除本聊天的全部数据（管理员）\n"
            "• /privacy — 我保存什么、保存多久\n\n"
            "<b>我保存的内容：</b>向量、Telegram 文件 ID、消息 ID、发送者 ID 和名称、说明文字、日期。从不保存媒体本身。"
            "保存至您用上述命令删除（或本聊天的保留期限到期）。\n"
            "<b>文字消息</b>仅在管理员开启后保存（<code>/settings text on</code>）："
            "此后每条至少 4 个词（8 个汉字）的消息会连同文字、向量、发送者、时间和消息 ID 一起保存，"
            "可被 /search 找到，复制他人消息时会被指出。\n"
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
    "cmd_forget": {
        "en": "Delete your media (reply) or everything you posted (me)",
        "zh": "删除您的媒体（回复）或全部内容（me）",
    },
    "cmd_mydata": {"en": "What the bot holds about you (private chat)", "zh": "机器人保存的关于您的数据（私聊）"},
    "cmd_purge": {"en": "Delete everything about this chat (admins)", "zh": "删除本聊天的全部数据（管理员）"},
    "cmd_privacy": {"en": "What is stored, how long, how to delete it", "zh": "保存什么、保存多久、如何删除"},
    "privacy": {
        "en": (
            "<b>What I store about this chat and its members</b>\n"
            "For every photo, video, GIF, video note, sticker or image/video file posted while I am here: the chat "
            "and message id, the sender's Telegram id and display name, the date, the kind of media, Telegram's file "
            "ids, the caption, and embedding vectors (lists of numbers describing the media and the caption). "
            "Never the media itself: to compute the vectors, the media and captions are sent to Alibaba Cloud "
            "DashScope and not kept there by me.\n"
            "Also: vectors by file (so the same file is not paid for twice), the queue entry of each update (with its "
            "caption) for {job_days} days after it was handled, request counts per chat and person per day, and the "
            "chat's settings.\n\n"
            "<b>How long</b>: until deleted. Admins can set <code>/settings retention 365</code> (days) to delete "
            "older items daily. When I am removed from a chat, its data is deleted after the period the operator set "
            "({removed_days} days on this bot).\n\n"
            "<b>How to delete</b>\n"
            "• /forget as a reply to your media: that item\n"
            "• /forget me: everything you posted in this chat (in a private chat with me: in every chat)\n"
            "• /mydata in a private chat with me: what I hold about you, as a file\n"
            "• /purge (admins): everything about this chat\n"
            "Deleted items are gone from the database (not just hidden), leave every search at once, and are not "
            "stored again from the same message."
        ),
        "zh": (
            "<b>我保存的关于本聊天及其成员的数据</b>\n"
            "在我加入期间发布的每张图片、视频、GIF、圆形视频、贴纸或图片/视频文件：聊天与消息 ID、发送者的 Telegram ID "
            "和显示名称、日期、媒体类型、Telegram 文件 ID、说明文字，以及向量（描述媒体和说明文字的一组数字）。"
            "从不保存媒体本身：为计算向量，媒体和说明文字会发送到阿里云 DashScope，我不会在那里保存它们。\n"
            "此外：按文件保存的向量（同一文件无需重复付费）、"
            "每条更新的队列记录（含说明文字，处理后保留 {job_days} 天）、"
            "每个聊天和每人每天的请求次数，以及本聊天的设置。\n\n"
            "<b>保存多久</b>：直到被删除。管理员可设置 <code>/settings retention 365</code>（天），每天删除更早的内容。"
            "我被移出聊天后，其数据在运营者设定的期限（本机器人为 {removed_days} 天）后删除。\n\n"
            "<b>如何删除</b>\n"
            "• 回复您的媒体发送 /forget：删除该条\n"
            "• /forget me：删除您在本聊天发布的全部内容（在与我的私聊中：所有聊天）\n"
            "• 在与我的私聊中发送 /mydata：以文件查看我保存的关于您的数据\n"
            "• /purge（管理员）：删除本聊天的全部数据\n"
            "删除的内容会从数据库中真正移除（不只是隐藏），立即从所有搜索中消失，且不会因同一条消息再次保存。"
        ),
    },
    "forget_usage": {
        "en": ("Reply to one of your media messages with /forget to delete it, or send <code>/forget me</code> to "
               "delete everything you posted here."),
        "zh": "回复您的一条媒体消息并发送 /forget 以删除它，或发送 <code>/forget me</code> 删除您在此发布的全部内容。",
    },
    "forget_not_yours": {
        "en": "Sorry, only the person who posted this or an admin of this chat can delete it.",
        "zh": "抱歉，只有发布者本人或本聊天的管理员可以删除它。",
    },
    "forget_nothing": {
        "en": "I hold nothing to delete here.",
        "zh": "这里没有我保存的可删除内容。",
    },
    "forgotten": {
        "en": "🗑 Deleted: {count} item(s). They will not appear in any answer again.",
        "zh": "🗑 已删除 {count} 条内容，它们不会再出现在任何回答中。",
    },
    "forgotten_chats": {
        "en": "🗑 Deleted everything you posted ({count} item(s)):",
        "zh": "🗑 已删除您发布的全部内容（{count} 条）：",
    },
    "forgotten_chat_line": {"en": "• chat {chat}: {count}", "zh": "• 聊天 {chat}：{count} 条"},
    "confirm_forget_me": {
        "en": "Delete all {count} item(s) you posted in this chat? Only you can confirm.",
        "zh": "删除您在本聊天发布的全部 {count} 条内容？只有您本人可以确认。",
    },
    "confirm_forget_me_everywhere": {
        "en": "Delete all {count} item(s) you posted, in every chat? This cannot be undone.",
        "zh": "删除您在所有聊天中发布的全部 {count} 条内容？此操作无法撤销。",
    },
    "confirm_purge": {
        "en": "Delete everything I hold about chat {chat}? This cannot be undone; an admin must confirm.",
        "zh": "删除我保存的关于聊天 {chat} 的全部数据？此操作无法撤销，需要管理员确认。",
    },
    "button_delete": {"en": "Yes, delete", "zh": "确认删除"},
    "button_cancel": {"en": "Cancel", "zh": "取消"},
    "press_done": {"en": "Done.", "zh": "已完成。"},
    "press_cancelled": {"en": "Cancelled: nothing was deleted.", "zh": "已取消，未删除任何内容。"},
    "press_not_yours": {"en": "This button is not for you.", "zh": "这个按钮不是给您的。"},
    "press_expired": {"en": "This request has expired or was already answered.", "zh": "此请求已过期或已处理。"},
    "purged": {
        "en": "🗑 Everything I held about chat {chat} is deleted.",
        "zh": "🗑 我保存的关于聊天 {chat} 的全部数据已删除。",
    },
    "purge_usage": {
        "en": "In a private chat, operators purge a chat by its id: <code>/purge -1001234567890</code>.",
        "zh": "在私聊中，运营者可按 ID 清除聊天：<code>/purge -1001234567890</code>。",
    },
    "mydata_private_only": {
        "en": "Send /mydata to me in a private chat: your data is not shown in groups.",
        "zh": "请在与我的私聊中发送 /mydata：您的数据不会在群组中显示。",
    },
    "mydata_none": {"en": "I hold nothing about you.", "zh": "我没有保存任何关于您的数据。"},
    "mydata_header": {
        "en": "<b>What I hold about you</b>: {count} item(s)",
        "zh": "<b>我保存的关于您的数据</b>：{count} 条",
    },
    "mydata_chat_line": {
        "en": "• chat {chat}: {kinds}; from {first} to {last}; captions stored: {captions}",
        "zh": "• 聊天 {chat}：{kinds}；{first} 至 {last}；保存的说明文字：{captions}",
    },
    "mydata_footer": {
        "en": ("The attached file lists each item (chat, message id, date, kind, caption). Vectors are not included. "
               "/forget me deletes them."),
        "zh": "附件列出每条内容（聊天、消息 ID、日期、类型、说明文字），不含向量。/forget me 可删除它们。",
    },
    "repost_identical": {
        "en": "🔁 <b>Repost</b>: identical to the post by {who} on {when}.{link}",
        "zh": "🔁 <b>重复发布</b>：与 {who} 于 {when} 发布的内容完全相同。{link}",
    },
    "repost_similar": {
        "en": "🔁 <b>Possible repost</b>: {score}% similar to the post by {who} on {when}.{link}",
        "zh": "🔁 <b>疑似重复</b>：与 {who} 于 {when} 发布的内容相似度 {score}%。{link}",
    },
    "greeting": {
        "en": "👋 Hi! I point out reposted photos, videos and GIFs here, and answer /similar and /search. {sight} "
              "Admins: /settings.",
        "zh": "👋 你好！我会指出这里重复发布的图片、视频和 GIF，并回答 /similar 和 /search。{sight}管理员：/settings。",
    },
    "greeting_sees": {"en": "I can see the media posted here.", "zh": "我能看到这里发布的媒体。"},
    "greeting_blind": {
        "en": "⚠️ I can't see the media posted here yet: make me an admin, or turn off my privacy mode in @BotFather "
              "(/setprivacy → Disable) and add me again.",
        "zh": "⚠️ 我目前看不到这里发布的媒体：请把我设为管理员，或在 @BotFather 中关闭隐私模式（/setprivacy → Disable）"
              "后重新添加我。",
    },
    "private_hint": {
        "en": "Send me a photo, video or GIF to find similar ones, or see /help.",
        "zh": "发送图片、视频或 GIF 给我来查找相似内容，或查看 /help。",
    },
    "btn_more": {"en": "More", "zh": "更多"},
    "copies": {"en": " · and {n} copies", "zh": " · 另有 {n} 个副本"},
    "one_copy": {"en": " · and 1 copy", "zh": " · 另有 1 个副本"},
    "results_expired": {
        "en": "I no longer have that result list; please ask again.",
        "zh": "该结果列表已失效，请重新查询。",
    },
    "btn_not_repost": {"en": "Not a repost", "zh": "不是重复"},
    "btn_ignore": {"en": "Ignore this picture", "zh": "忽略此图片"},
    "btn_ignore_message": {"en": "Ignore this message", "zh": "忽略此消息"},
    "alert_dismissed": {
        "en": "✅ <b>Not a repost</b>, said {who}: these two won't be called out against each other again.",
        "zh": "✅ <b>不是重复</b>（{who}）：这两条今后不会再互相提醒。",
    },
    "alert_ignored": {
        "en": "🙈 <b>Ignored</b> by {who}: media like the original won't be called out again.",
        "zh": "🙈 已被 {who} <b>忽略</b>：与原内容相似的媒体今后不再提醒。",
    },
    "toast_dismissed": {"en": "Noted: not a repost.", "zh": "已记录：不是重复。"},
    "toast_ignored": {"en": "Added to this chat's ignore list.", "zh": "已加入本聊天的忽略列表。"},
    "toast_already_ignored": {"en": "Already on the ignore list.", "zh": "已在忽略列表中。"},
    "toast_refused": {
        "en": "Only the two posters and the chat's admins can dismiss this alert.",
        "zh": "只有两位发布者和本聊天的管理员可以撤销此提醒。",
    },
    "toast_not_admin": {"en": "Only the chat's admins can do this.", "zh": "只有本聊天的管理员可以这样做。"},
    "toast_gone": {
        "en": "Sorry, this alert's media is no longer stored (the chat's data was deleted).",
        "zh": "抱歉，此提醒涉及的媒体已不再保存（本聊天的数据已删除）。",
    },
    "toast_unknown": {"en": "This button no longer does anything.", "zh": "此按钮已失效。"},
    "copypasta": {
        "en": "🔁 <b>Copypasta</b>: {score}% the same as a message by {who} on {when}.{link}",
        "zh": "🔁 <b>复制粘贴</b>：与 {who} 于 {when} 发送的消息相同度 {score}%。{link}",
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
            "Index: {index_size} searchable vectors (one per media item, one more per caption) · originals deleted "
            "from Telegram: {gone}"
        ),
        "zh": (
            "媒体数：{items}（{by_kind}）\n向量化方式：{by_route}\n已提醒重复：{reposts}\n"
            "发布最多：{posters}\nAPI 请求：{requests} · tokens：{tokens}（文本 {text_tokens}，图像 "
            "{image_tokens}）\n队列：待处理 {pending}，失败 {failed}，因每日额度跳过 {skipped}\n"
            "索引：{index_size} 个可检索向量（每条媒体一个，每段说明文字另计一个）· 已从 Telegram 删除的原件：{gone}"
        ),
    },
    "kinds": {
        "en": "photo:photos|image_document:image files|video:videos|animation:GIFs|video_note:video notes|"
              "sticker:stickers|video_document:video files|document:files",
        "zh": "photo:图片|image_document:图片文件|video:视频|animation:GIF|video_note:视频留言|sticker:贴纸|"
              "video_document:视频文件|document:文件",
    },
    "routes": {
        "en": "image:picture|thumbnail:thumbnail|video:video link|clip:short clip|keyframes:keyframes",
        "zh": "image:图片|thumbnail:缩略图|video:视频链接|clip:短片段|keyframes:关键帧",
    },
    "stats_texts": {
        "en": "Text indexing: {state} · messages indexed: {count}",
        "zh": "文字索引：{state} · 已索引消息：{count}",
    },
    "texts_delete_offer": {
        "en": "Text indexing is off: no new messages are stored. {count} messages are still stored.",
        "zh": "文字索引已关闭：不再保存新消息。仍保存着 {count} 条消息。",
    },
    "texts_delete_button": {"en": "Delete the {count} stored messages", "zh": "删除已保存的 {count} 条消息"},
    "texts_deleted": {
        "en": "🗑 Deleted {count} stored messages of this chat (media items stay).",
        "zh": "🗑 已删除本聊天保存的 {count} 条消息（媒体不受影响）。",
    },
    "stats_failures": {"en": "Recent failures:", "zh": "最近的失败："},
    "stats_none": {"en": "none", "zh": "无"},
    "stats_reembedding": {
        "en": ("Re-embedding for {model}: {done}/{total} done ({kept} kept on the old model: file gone, or "
               "imported history waiting for import-history to be run again on its export), "
               "about {hours} h and {tokens} tokens left. Until it is done, the old vectors serve."),
        "zh": ("正在用 {model} 重新嵌入：已完成 {done}/{total}（{kept} 个保留旧模型向量：文件已不可用，"
               "或为导入的历史记录，需对其导出再次运行 import-history），"
               "预计还需约 {hours} 小时、{tokens} 个 token。完成前仍使用旧向量。"),
    },
    "stats_reembedding_kept": {
        "en": ("Re-embedded for {model}; {kept} items stay on the old model (their files are gone, or they are "
               "imported history: run import-history again on its export to re-embed it)."),
        "zh": ("已用 {model} 重新嵌入；{kept} 个媒体保留旧模型向量（文件已不可用，或为导入的历史记录："
               "对其导出再次运行 import-history 即可重新嵌入）。"),
    },
    "stats_overview_title": {"en": "<b>All chats</b> ({count})", "zh": "<b>所有聊天</b>（{count}）"},
    "settings_show": {
        "en": (
            "<b>Settings</b>\nRepost threshold: {threshold}%{default}\nAlert style: {style}\n"
            "Own reposts allowed within: {leeway} h\nAlerts for stickers: {stickers}\nAlerts for GIFs: {gifs}\n"
            "Alert language: {language}\nRetention: {retention}\nText messages indexed: {texts}\n\nTap a button, "
            "or type "
            "<code>/settings threshold 93</code> (50–100 %, previewed first), "
            "<code>/settings threshold default</code>, "
            "<code>/settings alert reply|reaction|off</code>, <code>/settings leeway 24</code> (0–720 h), "
            "<code>/settings stickers on|off</code>, <code>/settings gifs on|off</code>, "
            "<code>/settings language auto|en|zh</code>, <code>/settings retention 365|off</code> (days), "
            "<code>/settings text on|off</code>."
        ),
        "zh": (
            "<b>设置</b>\n重复阈值：{threshold}%{default}\n提醒方式：{style}\n本人重发不提醒时限：{leeway} 小时\n"
            "贴纸提醒：{stickers}\nGIF 提醒：{gifs}\n提醒语言：{language}\n保留期限：{retention}\n"
            "文字消息索引：{texts}\n\n"
            "点按按钮，或输入 <code>/settings threshold 93</code>（50–100 %，先预览）、"
            "<code>/settings threshold default</code>、<code>/settings alert reply|reaction|off</code>、"
            "<code>/settings leeway 24</code>（0–720 小时）、<code>/settings stickers on|off</code>、"
            "<code>/settings gifs on|off</code>、<code>/settings language auto|en|zh</code>、"
            "<code>/settings retention 365|off</code>（天）、<code>/settings text on|off</code>。"
        ),
    },
    "settings_changed": {"en": "✅ Changed: {what}.", "zh": "✅ 已修改：{what}。"},
    "settings_threshold_range": {
        "en": "The threshold must be between 50 and 100 (%), e.g. <code>/settings threshold 93</code>.",
        "zh": "阈值必须在 50 到 100（%）之间，例如 <code>/settings threshold 93</code>。",
    },
    "settings_retention_range": {
        "en": "Retention is a number of days from 1 to 36500, or <code>off</code> to keep items forever, e.g. "
              "<code>/settings retention 365</code>.",
        "zh": "保留期限为 1 到 36500 天，或 <code>off</code> 表示永久保留，例如 <code>/settings retention 365</code>。",
    },
    "settings_leeway_range": {
        "en": "The leeway must be between 0 and 720 hours, e.g. <code>/settings leeway 24</code>.",
        "zh": "时限必须在 0 到 720 小时之间，例如 <code>/settings leeway 24</code>。",
    },
    "field_repost_threshold": {"en": "repost threshold {value}", "zh": "重复阈值 {value}"},
    "field_alert_style": {"en": "alert style {value}", "zh": "提醒方式 {value}"},
    "field_own_repost_hours": {"en": "own-repost leeway {value} h", "zh": "本人重发时限 {value} 小时"},
    "field_alert_stickers": {"en": "sticker alerts {value}", "zh": "贴纸提醒 {value}"},
    "field_alert_animations": {"en": "GIF alerts {value}", "zh": "GIF 提醒 {value}"},
    "field_language": {"en": "alert language {value}", "zh": "提醒语言 {value}"},
    "field_retention_days": {"en": "retention {value}", "zh": "保留期限 {value}"},
    "field_text_indexing": {"en": "text indexing {value}", "zh": "文字索引 {value}"},
    "style_reply": {"en": "reply", "zh": "回复"},
    "style_reaction": {"en": "reaction", "zh": "表情回应"},
    "style_off": {"en": "off", "zh": "关闭"},
    "btn_style_reply": {"en": "Reply", "zh": "回复"},
    "btn_style_reaction": {"en": "Reaction", "zh": "表情回应"},
    "btn_style_off": {"en": "No alerts", "zh": "不提醒"},
    "language_auto": {"en": "each poster's own", "zh": "跟随发布者"},
    "language_en": {"en": "English", "zh": "英文"},
    "language_zh": {"en": "Chinese", "zh": "中文"},
    "btn_strict": {"en": "Strict 97%", "zh": "严格 97%"},
    "btn_normal": {"en": "Normal 95%", "zh": "普通 95%"},
    "btn_loose": {"en": "Loose 90%", "zh": "宽松 90%"},
    "btn_leeway": {"en": "Own reposts: {hours} h", "zh": "本人重发：{hours} 小时"},
    "btn_stickers": {"en": "Stickers: {value}", "zh": "贴纸：{value}"},
    "btn_gifs": {"en": "GIFs: {value}", "zh": "GIF：{value}"},
    "btn_texts": {"en": "Texts: {value}", "zh": "文字：{value}"},
    "btn_lists": {"en": "Ignore list ({count})", "zh": "忽略列表（{count}）"},
    "btn_back": {"en": "« Settings", "zh": "« 设置"},
    "btn_undo": {"en": "Undo #{n}", "zh": "撤销 #{n}"},
    "btn_apply": {"en": "Apply {value}%", "zh": "应用 {value}%"},
    "lists_title": {"en": "<b>Ignore list</b> ({count})", "zh": "<b>忽略列表</b>（{count}）"},
    "lists_ignored": {"en": "#{n} {kind}, added by {who} on {when}", "zh": "#{n} {kind}，{who} 于 {when} 添加"},
    "lists_dismissed_title": {"en": "<b>Pairs marked not a repost</b> ({count})",
                              "zh": "<b>已标记为不是重复的配对</b>（{count}）"},
    "lists_dismissed": {"en": "#{n} by {who} on {when}", "zh": "#{n} {who} 于 {when}"},
    "preview": {
        "en": (
            "<b>Threshold {proposed}%?</b> (now {current}%)\nOf the {measured} media posted in the last {days} days, "
            "{would} would have been called out at {proposed}%, {now} at {current}%."
        ),
        "zh": (
            "<b>阈值改为 {proposed}%？</b>（当前 {current}%）\n最近 {days} 天发布的 {measured} 条媒体中，"
            "阈值 {proposed}% 会提醒 {would} 条，当前 {current}% 提醒 {now} 条。"
        ),
    },
    "preview_pairs": {"en": "Closest to {proposed}%:", "zh": "最接近 {proposed}% 的配对："},
    "preview_pair": {
        "en": "• {score} {mark} {who} ({when}){link} ↔ {who2} ({when2}){link2}",
        "zh": "• {score} {mark} {who}（{when}）{link} ↔ {who2}（{when2}）{link2}",
    },
    "preview_none": {"en": "No media in that time.", "zh": "这段时间没有媒体。"},
    "settings_default_mark": {"en": " (default)", "zh": "（默认）"},
    "retention_days": {"en": "items older than {days} days are deleted daily", "zh": "每天删除超过 {days} 天的内容"},
    "retention_forever": {"en": "kept until deleted", "zh": "保存至被删除"},
    "settings_usage": {
        "en": "I didn't understand that setting. Send /settings to see the options.",
        "zh": "无法识别该设置。发送 /settings 查看可用选项。",
    },
    "stats_feedback": {
        "en": "Alerts dismissed: {dismissed} · ignore list: {ignored}\nTop reposters: {reposters}\n"
              "Settings: threshold {threshold}%, alerts {style}, own reposts {leeway} h, stickers {stickers}, "
              "GIFs {gifs}, language {language}",
        "zh": "已撤销提醒：{dismissed} · 忽略列表：{ignored}\n重复发布最多：{reposters}\n"
              "设置：阈值 {threshold}%，提醒方式 {style}，本人重发时限 {leeway} 小时，贴纸 {stickers}，"
              "GIF {gifs}，语言 {language}",
    },
    "on": {"en": "on", "zh": "开"},
    "off": {"en": "off", "zh": "关"},
    "operator_auth": {
        "en": "⚠️ DashScope rejected the API key or the account ({code}). Embedding is paused until it works again.",
        "zh": "⚠️ DashScope 拒绝了 API 密钥或账户（{code}）。向量化已暂停，恢复后会自动继续。",
    },
    "operator_dimension": {
        "en": ("⚠️ The embedding model answers vectors of another length than EMBEDDING_DIMENSION asks for ({code}); "
               "nothing was stored. Embedding is paused: set EMBEDDING_DIMENSION to a dimension this model really "
               "offers (or leave it empty for its default) and restart the bot."),
        "zh": ("⚠️ 嵌入模型返回的向量长度与 EMBEDDING_DIMENSION 不符（{code}），未保存任何向量。嵌入已暂停："
               "请把 EMBEDDING_DIMENSION 设为该模型实际提供的维度（或留空使用默认值）后重启机器人。"),
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


def names(key: str, lang: Lang) -> dict[str, str]:
    """A table of internal names (media kinds, routes) to words, kept as `name:words|…` in one sentence slot."""
    return dict(pair.split(":", 1) for pair in t(key, lang).split("|"))


def t(key: str, lang: Lang, **values: object) -> str:
    template = _TEXTS[key][lang]
    return template.format(**values) if values else template
