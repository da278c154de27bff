"""Reading Telegram Desktop's JSON chat exports, streamed: a result.json of hundreds of MB in bounded memory."""
