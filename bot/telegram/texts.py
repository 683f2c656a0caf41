"""Interface texts in Arabic and English, and how a chat's language is chosen."""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("ar", "en")

_TEXTS: Final[dict[str, dict[str, str]]] = {
    "greeting": {
        "ar": "أهلًا بك في نشرة الأخبار 📰\nستصلك أحدث القصص فور نشرها. "
        "اكتب /latest لآخر الأخبار أو /topics لاختيار المواضيع.",
        "en": "Welcome to the news 📰\nNew stories will reach you as they are published. "
        "Send /latest for the newest stories or /topics to choose topics.",
    },
    "help": {
        "ar": "الأوامر:\n/latest أحدث القصص\n/summary [رقم] ملخص قصة\n"
        "/more القسم التالي مما تقرأ\n"
        "/topics المواضيع\n/subscribe [موضوع] الاشتراك\n/unsubscribe [موضوع] إلغاء الاشتراك\n"
        "/language اللغة",
        "en": "Commands:\n/latest newest stories\n/summary [id] a story's summary\n"
        "/more next section of what you are reading\n/topics choose topics\n"
        "/subscribe [topic] subscribe\n/unsubscribe [topic] unsubscribe\n/language language",
    },
    "unknown": {
        "ar": "لم أفهم ذلك.",
        "en": "I did not understand that.",
    },
    "subscribed_all": {
        "ar": "تم الاشتراك في كل المواضيع ✅",
        "en": "Subscribed to all topics ✅",
    },
    "subscribed_topic": {
        "ar": "تم الاشتراك في موضوع «{topic}» ✅",
        "en": "Subscribed to “{topic}” ✅",
    },
    "already_subscribed": {
        "ar": "أنت مشترك بالفعل.",
        "en": "You are already subscribed.",
    },
    "unsubscribed_all": {
        "ar": "تم إلغاء كل اشتراكاتك. اكتب /subscribe للعودة.",
        "en": "All your subscriptions are cancelled. Send /subscribe to come back.",
    },
    "unsubscribed_topic": {
        "ar": "تم إلغاء الاشتراك في «{topic}».",
        "en": "Unsubscribed from “{topic}”.",
    },
    "not_subscribed": {
        "ar": "لم تكن مشتركًا في «{topic}».",
        "en": "You were not subscribed to “{topic}”.",
    },
    "topic_too_long": {
        "ar": "اسم الموضوع طويل جدًا (الحد {limit} حرفًا).",
        "en": "That topic name is too long (at most {limit} characters).",
    },
    "topics_header": {
        "ar": "اختر المواضيع التي تهمك (✅ = مشترك):",
        "en": "Choose your topics (✅ = subscribed):",
    },
    "all_topics": {"ar": "كل المواضيع", "en": "All topics"},
    "latest_header": {"ar": "أحدث القصص:", "en": "Latest stories:"},
    "latest_none": {
        "ar": "لا توجد قصص بعد.",
        "en": "There are no stories yet.",
    },
    "read_more": {"ar": "اقرأ المزيد", "en": "Read more"},
    "source": {"ar": "المصدر", "en": "Source"},
    "next": {"ar": "التالي ({position}/{total})", "en": "Next ({position}/{total})"},
    "latest_button": {"ar": "أحدث القصص", "en": "Latest stories"},
    "end_of_story": {"ar": "— نهاية القصة —", "en": "— End of the story —"},
    "story_gone": {
        "ar": "هذه القصة لم تعد متاحة.",
        "en": "This story is no longer available.",
    },
    "section_gone": {
        "ar": "لا يوجد قسم آخر في هذه القصة.",
        "en": "There is no further section in this story.",
    },
    "nothing_to_continue": {
        "ar": "لا توجد قصة تقرؤها الآن. اكتب /latest.",
        "en": "You are not reading a story. Send /latest.",
    },
    "summary_usage": {
        "ar": "اكتب رقم القصة، مثل: /summary 12",
        "en": "Give a story number, for example: /summary 12",
    },
    "choose_language": {"ar": "اختر اللغة:", "en": "Choose a language:"},
    "language_set": {"ar": "سأكلمك بالعربية.", "en": "I will speak English with you."},
    "bad_button": {
        "ar": "هذا الزر لم يعد صالحًا.",
        "en": "This button is no longer valid.",
    },
    "page_previous": {"ar": "السابق ({page}/{pages})", "en": "Previous ({page}/{pages})"},
    "page_next": {"ar": "التالي ({page}/{pages})", "en": "Next ({page}/{pages})"},
    "something_went_wrong": {
        "ar": "حدث خطأ ما، يُرجى المحاولة مرة أخرى.",
        "en": "Something went wrong, please try again.",
    },
    "menu_latest": {"ar": "أحدث القصص", "en": "Newest stories"},
    "menu_summary": {"ar": "ملخص قصة", "en": "A story's summary"},
    "menu_more": {"ar": "القسم التالي", "en": "Next section"},
    "menu_topics": {"ar": "المواضيع", "en": "Topics"},
    "menu_subscribe": {"ar": "الاشتراك", "en": "Subscribe"},
    "menu_unsubscribe": {"ar": "إلغاء الاشتراك", "en": "Unsubscribe"},
    "menu_language": {"ar": "اللغة", "en": "Language"},
    "menu_help": {"ar": "المساعدة", "en": "Help"},
    "not_operator": {
        "ar": "هذا الأمر متاح للمحررين فقط.",
        "en": "Sorry, this command is for editors only.",
    },
    "publish_usage": {
        "ar": "الاستخدام: /publish رقم_القصة [الموعد]",
        "en": "Usage: /publish ARTICLE-ID [WHEN]",
    },
    "schedule_usage": {
        "ar": "الاستخدام: /schedule رقم_القصة الموعد [موضوع]\n"
        "الموعد: now أو 18:00 أو tomorrow 08:00 أو in 2h أو 2026-12-01T18:00",
        "en": "Usage: /schedule ARTICLE-ID WHEN [topic]\n"
        "WHEN: now, 18:00, tomorrow 08:00, in 2h or 2026-12-01T18:00",
    },
    "cancel_usage": {
        "ar": "الاستخدام: /cancel رقم_البث",
        "en": "Usage: /cancel BROADCAST-ID",
    },
    "stats_usage": {
        "ar": "الاستخدام: /stats [رقم_البث]",
        "en": "Usage: /stats [BROADCAST-ID]",
    },
    "no_article": {
        "ar": "لا توجد قصة برقم {id}.",
        "en": "There is no article {id}.",
    },
    "no_broadcast": {
        "ar": "لا يوجد بث برقم {id}.",
        "en": "There is no broadcast {id}.",
    },
    "bad_topic": {
        "ar": "«{topic}» ليس اسم موضوع.",
        "en": "“{topic}” is not a topic name.",
    },
    "broadcast_created": {
        "ar": "البث #{id} للقصة {article} ({audience}) موعده {when}.",
        "en": "Broadcast #{id} of article {article} ({audience}) is due {when}.",
    },
    "broadcast_exists": {
        "ar": "البث #{id} للقصة {article} ({audience}) أُنشئ من هذه الرسالة من قبل؛ "
        "حالته: {status}، موعده {when}.",
        "en": "Broadcast #{id} of article {article} ({audience}) was already created from this "
        "message; it is {status}, due {when}.",
    },
    "audience_all": {
        "ar": "كل المشتركين في مواضيعها",
        "en": "subscribers of its topics",
    },
    "audience_topic": {
        "ar": "المشتركون في «{topic}»",
        "en": "subscribers of “{topic}”",
    },
    "broadcasts_none": {
        "ar": "لا توجد عمليات بث بعد.",
        "en": "No broadcasts yet.",
    },
    "broadcasts_header": {
        "ar": "عمليات البث:",
        "en": "Broadcasts:",
    },
    "broadcast_line": {
        "ar": "#{id} · {status} · القصة {article} · {when}\n"
        "أُرسل {sent} من {target} · تُخطّي {skipped} · فشل {failed} · في الانتظار {queued}",
        "en": "#{id} · {status} · article {article} · {when}\n"
        "sent {sent} of {target} · skipped {skipped} · failed {failed} · waiting {queued}",
    },
    "broadcast_readers": {
        "ar": "فتح «اقرأ المزيد» {readers} قارئًا.",
        "en": "{readers} readers opened “Read more”.",
    },
    "photo_refused": {
        "ar": "رفض تيليجرام الصورة: {reason} (أُرسلت البطاقات نصًّا).",
        "en": "photo refused: {reason} (the cards went out as text)",
    },
    "broadcast_cancelled": {
        "ar": "أُلغي البث #{id}؛ حُذفت {dropped} رسالة لم تُرسل.",
        "en": "Broadcast #{id} cancelled; {dropped} unsent messages dropped.",
    },
    "broadcast_not_open": {
        "ar": "لا يمكن إلغاء البث #{id}: حالته {status}.",
        "en": "Broadcast #{id} cannot be cancelled: it is {status}.",
    },
    "broadcast_missed": {
        "ar": "⚠️ فات موعد البث #{id} (القصة {article}) ولم يُرسل.",
        "en": "⚠️ Broadcast #{id} (article {article}) missed its time and was not sent.",
    },
    "feed_failed": {
        "ar": "⚠️ تعذّرت قراءة خلاصة الأخبار {source}: {reason}\nستُعاد المحاولة على فترات متزايدة.",
        "en": "⚠️ The feed {source} could not be read: {reason}\nIt will be retried, less often.",
    },
    "status_scheduled": {"ar": "مجدول", "en": "scheduled"},
    "status_running": {"ar": "جارٍ", "en": "running"},
    "status_done": {"ar": "اكتمل", "en": "done"},
    "status_cancelled": {"ar": "أُلغي", "en": "cancelled"},
    "status_missed": {"ar": "فات موعده", "en": "missed"},
}


def text(language: str, key: str, **values: object) -> str:
    """The interface text `key` in `language` (English when the language is unknown)."""
    variants = _TEXTS[key]
    template = variants.get(language, variants["en"])
    return template.format(**values) if values else template


def choose_language(chosen: str | None, telegram_language: str | None, default: str) -> str:
    """The chat's own choice, else the user's Telegram language, else the bot's default."""
    if chosen in LANGUAGES:
        return chosen
    prefix = (telegram_language or "").split("-")[0].lower()
    return prefix if prefix in LANGUAGES else default
