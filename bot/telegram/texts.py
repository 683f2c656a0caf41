"""Interface texts in Arabic and English, and how a chat's language is chosen."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

LANGUAGES: Final = ("ar", "en")
RTL_LANGUAGES: Final = frozenset({"ar"})
# A line takes the direction of its first strong letter: RLM makes a line that starts with a
# Latin command ("/latest …") right to left, and LRM keeps the command's "/" on its left.
RTL_LINE_START: Final = "\u200f\u200e"
_FIELD: Final = re.compile(r"\{[^{}]*\}")

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
        "/language اللغة\n/search كلمات البحث في القصص\n"
        "/settings الإعدادات: /edition /follow /follows /quiet /timezone /digest /cap",
        "en": "Commands:\n/latest newest stories\n/summary [id] a story's summary\n"
        "/more next section of what you are reading\n/topics choose topics\n"
        "/subscribe [topic] subscribe\n/unsubscribe [topic] unsubscribe\n/language language\n"
        "/search words find stories\n"
        "/settings your settings: /edition /follow /follows /quiet /timezone /digest /cap",
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
    "no_such_story": {
        "ar": "لا توجد قصة بالرقم {id}. اكتب /latest لأحدث القصص.",
        "en": "There is no story {id}. Send /latest for the newest stories.",
    },
    "unknown_topic": {
        "ar": "لا توجد قصص في موضوع «{topic}».\nالمواضيع: {topics}\nاكتب /topics للاختيار.",
        "en": "No story has the topic “{topic}”.\nTopics: {topics}\nSend /topics to choose.",
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
    "menu_search": {"ar": "البحث في القصص", "en": "Find stories"},
    "search_usage": {
        "ar": "اكتب كلمات البحث بعد الأمر، مثل: /search الطاقة الشمسية",
        "en": "Write what to look for after the command, for example: /search solar power",
    },
    "search_too_long": {
        "ar": "البحث طويل جدًا (الحد {limit} حرفًا). جرّب كلمات أقل.",
        "en": "That search is too long (at most {limit} characters). Try fewer words.",
    },
    "search_none": {
        "ar": "لم أجد قصصًا فيها «{words}».",
        "en": "No stories found with “{words}”.",
    },
    "search_header": {
        "ar": "نتائج البحث عن «{words}»:",
        "en": "Stories with “{words}”:",
    },
    "search_more": {"ar": "المزيد ({page})", "en": "More ({page})"},
    "search_expired": {
        "ar": "انتهت صلاحية هذا البحث، ابحث من جديد.",
        "en": "This search has expired; please search again.",
    },
    "share": {"ar": "مشاركة", "en": "Share"},
    "inline_none": {"ar": "لا توجد قصص مطابقة", "en": "No matching stories"},
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
    "broadcast_line_waiting": {
        "ar": "#{id} · {status} · القصة {article} · {when}\n"
        "لم يبدأ بعد · سيصل الآن إلى نحو {reach} قارئ",
        "en": "#{id} · {status} · article {article} · {when}\n"
        "not started · would reach about {reach} readers now",
    },
    "broadcast_line_never": {
        "ar": "#{id} · {status} · القصة {article} · {when}\nلم يبدأ قط",
        "en": "#{id} · {status} · article {article} · {when}\nnever started",
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
    "updated_at": {"ar": "حُدّثت {time}", "en": "updated {time}"},
    "retracted_note": {
        "ar": "سحبت غرفة الأخبار هذه القصة.",
        "en": "This story was withdrawn by the newsroom.",
    },
    "story_withdrawn": {
        "ar": "سُحبت هذه القصة.",
        "en": "This story was withdrawn.",
    },
    "read_in_bot": {"ar": "اقرأ في البوت", "en": "Read in the bot"},
    "correct_usage": {
        "ar": "الاستخدام: /correct رقم_القصة",
        "en": "Usage: /correct ARTICLE-ID",
    },
    "retract_usage": {
        "ar": "الاستخدام: /retract رقم_القصة",
        "en": "Usage: /retract ARTICLE-ID",
    },
    "correct_started": {
        "ar": "التصحيح #{id} للقصة {article}: ستُعدّل {target} رسالة.",
        "en": "Correction #{id} of article {article}: {target} messages to edit.",
    },
    "retract_started": {
        "ar": "السحب #{id} للقصة {article}: ستُحذف {target} رسالة؛ أُلغي {cancelled} بث.",
        "en": "Retraction #{id} of article {article}: {target} messages to delete; "
        "{cancelled} broadcasts stopped.",
    },
    "never_pushed": {
        "ar": "القصة {article} لم تُرسل إلى أحد بعد؛ لا شيء لتصحيحه.",
        "en": "Article {article} has not been pushed to anyone; there is nothing to correct.",
    },
    "job_running": {
        "ar": "العملية #{id} على القصة {article} ما زالت جارية؛ انتظر انتهاءها.",
        "en": "Job #{id} on article {article} is still running; wait for it to finish.",
    },
    "article_withdrawn": {
        "ar": "القصة {article} مسحوبة.",
        "en": "Article {article} has been withdrawn.",
    },
    "kind_correct": {"ar": "تصحيح", "en": "correction"},
    "kind_retract": {"ar": "سحب", "en": "retraction"},
    "channels_usage": {
        "ar": "الاستخدام: /channels أو /channels add @القناة أو /channels remove @القناة",
        "en": "Usage: /channels, /channels add @channel or /channels remove @channel",
    },
    "channels_none": {
        "ar": "لا تُنشر القصص في أي قناة.",
        "en": "Stories are not posted to any channel.",
    },
    "channels_header": {"ar": "القنوات:", "en": "Channels:"},
    "channel_added": {
        "ar": "ستُنشر القصص في {name} أيضًا.",
        "en": "Stories will also be posted to {name}.",
    },
    "channel_exists": {
        "ar": "القصص تُنشر في {name} بالفعل.",
        "en": "Stories are already posted to {name}.",
    },
    "channel_removed": {
        "ar": "لن تُنشر القصص في {name} بعد الآن.",
        "en": "Stories will no longer be posted to {name}.",
    },
    "channel_unknown": {
        "ar": "{name} ليست من قنواتنا.",
        "en": "{name} is not one of our channels.",
    },
    "channel_not_found": {
        "ar": "لم يجد تيليجرام القناة {name}.",
        "en": "Telegram does not know the channel {name}.",
    },
    "channel_not_channel": {
        "ar": "{name} ليست قناة.",
        "en": "{name} is not a channel.",
    },
    "channel_not_admin": {
        "ar": "البوت ليس مشرفًا يمكنه النشر في {name}: أضفه مشرفًا ثم أعد المحاولة.",
        "en": "The bot is not an administrator that may post in {name}: make it one, "
        "then try again.",
    },
    "here_usage": {
        "ar": "الاستخدام: /here موضوع (داخل موضوع من مواضيع المجموعة)",
        "en": "Usage: /here TOPIC (in a topic thread of the group)",
    },
    "here_not_thread": {
        "ar": "اكتب /here داخل موضوع من مواضيع مجموعة منتدى.",
        "en": "Send /here in a topic thread of a forum group.",
    },
    "here_not_admin": {
        "ar": "هذا الأمر لمشرفي المجموعة فقط.",
        "en": "Only the group's administrators may do that.",
    },
    "here_set": {
        "ar": "ستصل قصص «{topic}» إلى هذا الموضوع.",
        "en": "Stories of “{topic}” will come to this thread.",
    },
    "status_scheduled": {"ar": "مجدول", "en": "scheduled"},
    "status_running": {"ar": "جارٍ", "en": "running"},
    "status_done": {"ar": "اكتمل", "en": "done"},
    "status_cancelled": {"ar": "أُلغي", "en": "cancelled"},
    "status_missed": {"ar": "فات موعده", "en": "missed"},
    # Readers' settings (handlers/settings.py): editions, follows, quiet hours, digests, caps.
    "edition_choose": {
        "ar": "أي القصص تصلك؟ الآن: {edition}.",
        "en": "Which stories should reach you? Now: {edition}.",
    },
    "edition_set": {"ar": "ستصلك {edition}.", "en": "You will receive {edition}."},
    "edition_usage": {
        "ar": "الاستخدام: /edition ar أو en أو all",
        "en": "Usage: /edition ar, en or all",
    },
    "edition_all": {"ar": "القصص بكل اللغات", "en": "stories in every language"},
    "edition_ar": {"ar": "القصص العربية", "en": "Arabic stories"},
    "edition_en": {"ar": "القصص الإنجليزية", "en": "English stories"},
    "button_edition_all": {"ar": "كل اللغات", "en": "All languages"},
    "button_edition_ar": {"ar": "العربية", "en": "Arabic"},
    "button_edition_en": {"ar": "الإنجليزية", "en": "English"},
    "follow_usage": {
        "ar": "الاستخدام: /follow كلمات — تصلك القصص التي تذكرها ولو كانت خارج مواضيعك.",
        "en": "Usage: /follow WORDS — stories that mention them reach you, even outside "
        "your topics.",
    },
    "follow_added": {"ar": "أنت تتابع الآن «{words}».", "en": "You now follow “{words}”."},
    "follow_exists": {"ar": "أنت تتابع «{words}» بالفعل.", "en": "You already follow “{words}”."},
    "follow_empty": {
        "ar": "لا يوجد ما يُتابع في ذلك: اكتب كلمة أو عبارة.",
        "en": "There is nothing to follow in that: write a word or a phrase.",
    },
    "follow_too_long": {
        "ar": "العبارة طويلة جدًا (الحد {limit} حرفًا).",
        "en": "That is too long to follow (at most {limit} characters).",
    },
    "follow_too_many": {
        "ar": "تتابع {limit} عبارة، وهو الحد الأقصى. احذف واحدة من /follows.",
        "en": "You already follow {limit} words or phrases, the most allowed. "
        "Remove one with /follows.",
    },
    "unfollow_usage": {
        "ar": "الاستخدام: /unfollow كلمات، أو اضغط زرًا في /follows",
        "en": "Usage: /unfollow WORDS, or press a button in /follows",
    },
    "unfollowed": {"ar": "لم تعد تتابع «{words}».", "en": "You no longer follow “{words}”."},
    "not_following": {"ar": "أنت لا تتابع «{words}».", "en": "You do not follow “{words}”."},
    "follows_header": {
        "ar": "ما تتابعه (اضغط لحذفه):",
        "en": "What you follow (press to remove):",
    },
    "follows_none": {
        "ar": "لا تتابع شيئًا بعد. اكتب /follow كلمات",
        "en": "You follow nothing yet. Send /follow WORDS",
    },
    "quiet_usage": {
        "ar": "الاستخدام: /quiet 23:00-07:00 [silent] أو /quiet off (الأوقات من 00:00 إلى 23:59، "
        "ولا تتساوى البداية والنهاية).",
        "en": "Usage: /quiet 23:00-07:00 [silent] or /quiet off (times from 00:00 to 23:59; "
        "start and end must differ).",
    },
    "quiet_set": {
        "ar": "ساعات الهدوء {window} ({zone}): تنتظر القصص حتى تنتهي.",
        "en": "Quiet hours {window} ({zone}): stories wait until they end.",
    },
    "quiet_set_silent": {
        "ar": "ساعات الهدوء {window} ({zone}): تصل القصص بلا صوت.",
        "en": "Quiet hours {window} ({zone}): stories arrive without a sound.",
    },
    "quiet_off": {"ar": "ساعات الهدوء متوقفة.", "en": "Quiet hours are off."},
    "timezone_usage": {
        "ar": "الاستخدام: /timezone المنطقة/المدينة، مثل /timezone Asia/Riyadh. الآن: {zone}.",
        "en": "Usage: /timezone Area/City, for example /timezone Asia/Riyadh. Now: {zone}.",
    },
    "timezone_bad": {
        "ar": "«{zone}» ليست منطقة زمنية أعرفها. اكتبها هكذا: Asia/Riyadh",
        "en": "“{zone}” is not a time zone I know. Write it as Area/City, e.g. Europe/London.",
    },
    "timezone_set": {
        "ar": "تُقرأ أوقاتك الآن بتوقيت {zone}.",
        "en": "Your times are now in {zone}.",
    },
    "digest_usage": {
        "ar": "الاستخدام: /digest off أو /digest hourly أو /digest daily 08:00",
        "en": "Usage: /digest off, /digest hourly or /digest daily 08:00",
    },
    "digest_set_off": {
        "ar": "الملخصات متوقفة: تصلك القصص فور نشرها.",
        "en": "Digests are off: stories reach you as they are published.",
    },
    "digest_set_hourly": {
        "ar": "سيصلك ملخص كل ساعة بقصصها.",
        "en": "You will get one digest an hour with that hour's stories.",
    },
    "digest_set_daily": {
        "ar": "سيصلك ملخص واحد يوميًا في {time} ({zone}).",
        "en": "You will get one digest a day at {time} ({zone}).",
    },
    "digest_header": {"ar": "ملخصك: {count} قصة", "en": "Your digest: {count} stories"},
    "digest_more": {"ar": "…و{count} غيرها", "en": "…and {count} more"},
    "cap_bad": {
        "ar": "اكتب عددًا صحيحًا من 1 إلى {limit}، أو off، مثل: /cap 5",
        "en": "Write a whole number from 1 to {limit}, or off, for example: /cap 5",
    },
    "cap_set": {
        "ar": "{cap} قصص يوميًا على الأكثر؛ ويذهب الباقي إلى ملخصك التالي.",
        "en": "At most {cap} stories a day; the rest go into your next digest.",
    },
    "cap_off": {"ar": "لا حد يوميًا.", "en": "No daily limit."},
    "settings_text": {
        "ar": "إعداداتك:\nالإصدار: {edition}\nالمنطقة الزمنية: {zone}\nساعات الهدوء: {quiet}\n"
        "الملخص: {digest}\nالحد اليومي: {cap}\nتتابع: {follows}",
        "en": "Your settings:\nEdition: {edition}\nTime zone: {zone}\nQuiet hours: {quiet}\n"
        "Digest: {digest}\nDaily cap: {cap}\nFollowing: {follows}",
    },
    "setting_off": {"ar": "متوقف", "en": "off"},
    "setting_none": {"ar": "لا شيء", "en": "nothing"},
    "setting_silent": {"ar": "{window}، بلا صوت", "en": "{window}, silent"},
    "setting_hourly": {"ar": "كل ساعة", "en": "hourly"},
    "setting_daily": {"ar": "يوميًا في {time}", "en": "daily at {time}"},
    "setting_cap": {"ar": "{cap} قصص", "en": "{cap} stories"},
    "button_digest_off": {"ar": "بلا ملخص", "en": "No digest"},
    "button_digest_hourly": {"ar": "ملخص كل ساعة", "en": "Hourly digest"},
    "button_quiet_off": {"ar": "إيقاف ساعات الهدوء", "en": "Quiet hours off"},
    "button_cap_off": {"ar": "بلا حد يومي", "en": "No daily cap"},
    "button_follows": {"ar": "ما أتابعه ({count})", "en": "Follows ({count})"},
    "button_settings": {"ar": "الإعدادات", "en": "Settings"},
    "menu_settings": {"ar": "الإعدادات", "en": "Settings"},
    "breaking_usage": {
        "ar": "الاستخدام: /breaking رقم_القصة",
        "en": "Usage: /breaking ARTICLE-ID",
    },
    "breaking_created": {
        "ar": "🔴 البث العاجل #{id} للقصة {article} يُرسل الآن إلى كل المستهدفين.",
        "en": "🔴 Breaking broadcast #{id} of article {article} goes out now to every target.",
    },
}


def text(language: str, key: str, **values: object) -> str:
    """The interface text `key` in `language` (English when the language is unknown)."""
    variants = _TEXTS[key]
    template = variants.get(language, variants["en"])
    if language in RTL_LANGUAGES and language in variants:
        template = right_to_left_lines(template)
    return template.format(**values) if values else template


def starts_left_to_right(line: str) -> bool:
    """Whether the first strong letter of a template's line is a left-to-right one (Latin).

    Fields ("{topic}") count as neutral: what fills them is the reader's or the story's.
    """
    for char in _FIELD.sub("", line):
        kind = unicodedata.bidirectional(char)
        if kind == "L":
            return True
        if kind in ("R", "AL"):
            return False
    return False


def right_to_left_lines(message: str) -> str:
    """A right-to-left message whose lines all read right to left, wherever they start."""
    return "\n".join(
        RTL_LINE_START + line if starts_left_to_right(line) else line
        for line in message.split("\n")
    )


def choose_language(chosen: str | None, telegram_language: str | None, default: str) -> str:
    """The chat's own choice, else the user's Telegram language, else the bot's default."""
    if chosen in LANGUAGES:
        return chosen
    prefix = (telegram_language or "").split("-")[0].lower()
    return prefix if prefix in LANGUAGES else default
