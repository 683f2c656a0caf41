"""The Telegram HTML validator and entity parser of the fake Bot API."""

from __future__ import annotations

import html
from typing import Any

import pytest

from bot.sandbox.botapi.telegram_html import (
    Entity,
    EntityParseError,
    normalize,
    normalize_link,
    parse_html,
    utf16_len,
)


def entities(source: str) -> list[dict[str, Any]]:
    return parse_html(source).entity_dicts()


def error(source: str, *, strict: bool = True) -> str:
    with pytest.raises(EntityParseError) as caught:
        parse_html(source, strict=strict)
    return str(caught.value)


# --- visible text and entities --------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "kind"),
    [
        ("b", "bold"),
        ("strong", "bold"),
        ("i", "italic"),
        ("em", "italic"),
        ("u", "underline"),
        ("ins", "underline"),
        ("s", "strikethrough"),
        ("strike", "strikethrough"),
        ("del", "strikethrough"),
        ("tg-spoiler", "spoiler"),
        ("code", "code"),
        ("pre", "pre"),
        ("blockquote", "blockquote"),
    ],
)
def test_each_simple_tag_gives_its_entity(tag: str, kind: str) -> None:
    parsed = parse_html(f"say <{tag}>hello</{tag}>!")
    assert parsed.text == "say hello!"
    assert parsed.entity_dicts() == [{"type": kind, "offset": 4, "length": 5}]


def test_tag_names_are_case_insensitive_in_start_tags() -> None:
    assert entities("<B>x</b>") == [{"type": "bold", "offset": 0, "length": 1}]


def test_spoiler_span() -> None:
    assert entities('<span class="tg-spoiler">x</span>') == [
        {"type": "spoiler", "offset": 0, "length": 1}
    ]


def test_text_link_keeps_the_url_with_entities_decoded() -> None:
    parsed = parse_html('<a href="https://example.com/a?x=1&amp;y=2">read</a>')
    assert parsed.text == "read"
    assert parsed.entity_dicts() == [
        {"type": "text_link", "offset": 0, "length": 4, "url": "https://example.com/a?x=1&y=2"}
    ]


def test_link_without_path_gets_a_slash_like_telegram() -> None:
    assert entities("<a href='https://example.com'>x</a>")[0]["url"] == "https://example.com/"


def test_link_without_href_points_to_its_text() -> None:
    assert entities("<a>example.com</a>")[0]["url"] == "http://example.com/"


def test_invalid_link_is_dropped_silently() -> None:
    parsed = parse_html('<a href="javascript:alert(1)">x</a>')
    assert (parsed.text, parsed.entities) == ("x", ())


def test_user_link_becomes_a_text_mention() -> None:
    assert entities('<a href="tg://user?id=42">Sam</a>') == [
        {
            "type": "text_mention",
            "offset": 0,
            "length": 3,
            "user": {"id": 42, "is_bot": False, "first_name": ""},
        }
    ]


def test_pre_with_language() -> None:
    parsed = parse_html('<pre><code class="language-python">print(1)</code></pre>')
    assert parsed.text == "print(1)"
    assert parsed.entity_dicts() == [
        {"type": "pre", "offset": 0, "length": 8, "language": "python"}
    ]


def test_pre_with_plain_code_inside_is_just_pre() -> None:
    assert entities("<pre><code>x = 1</code></pre>") == [{"type": "pre", "offset": 0, "length": 5}]


def test_code_language_outside_pre_is_ignored() -> None:
    assert entities('<code class="language-sh">ls</code>') == [
        {"type": "code", "offset": 0, "length": 2}
    ]


def test_expandable_blockquote() -> None:
    assert entities("<blockquote expandable>long quote</blockquote>") == [
        {"type": "expandable_blockquote", "offset": 0, "length": 10}
    ]


def test_custom_emoji() -> None:
    assert entities('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>') == [
        {
            "type": "custom_emoji",
            "offset": 0,
            "length": 2,
            "custom_emoji_id": "5368324170671202286",
        }
    ]


def test_offsets_and_lengths_count_utf16_code_units() -> None:
    parsed = parse_html("😀 <b>é😀x</b>")
    assert parsed.text == "😀 é😀x"
    # The emoji is a surrogate pair: two units before and two inside the bold range.
    assert parsed.entity_dicts() == [{"type": "bold", "offset": 3, "length": 4}]


def test_arabic_text_offsets() -> None:
    parsed = parse_html("<b>مرحبا</b> بالعالم")
    assert parsed.text == "مرحبا بالعالم"
    assert parsed.entity_dicts() == [{"type": "bold", "offset": 0, "length": 5}]


def test_named_and_numeric_entities_are_decoded() -> None:
    parsed = parse_html("&lt;b&gt; &amp; &quot;q&quot; &#65;&#x42;&#128512;")
    assert parsed.text == '<b> & "q" AB😀'
    assert parsed.entities == ()


def test_decoded_entities_count_towards_offsets() -> None:
    assert entities("&lt;&lt;<b>x</b>") == [{"type": "bold", "offset": 2, "length": 1}]


def test_bare_greater_than_is_allowed() -> None:
    assert parse_html("a > b").text == "a > b"


def test_nested_entities_are_listed_outer_first() -> None:
    assert entities("<b>bold <i>both</i></b>") == [
        {"type": "bold", "offset": 0, "length": 9},
        {"type": "italic", "offset": 5, "length": 4},
    ]


def test_adjacent_same_entities_merge() -> None:
    assert entities("<b>a</b><b>b</b>") == [{"type": "bold", "offset": 0, "length": 2}]


def test_formatting_is_cut_around_code() -> None:
    assert entities("<b>x <code>y</code> z</b>") == [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "code", "offset": 2, "length": 1},
        {"type": "bold", "offset": 3, "length": 2},
    ]


def test_pre_contains_no_other_entities() -> None:
    assert entities("<pre>a<b>b</b></pre>") == [{"type": "pre", "offset": 0, "length": 2}]


def test_blockquotes_do_not_nest() -> None:
    assert entities("<blockquote>a<blockquote>b</blockquote></blockquote>") == [
        {"type": "blockquote", "offset": 0, "length": 2}
    ]


def test_empty_tags_give_no_entity() -> None:
    parsed = parse_html("<b></b>x")
    assert (parsed.text, parsed.entities) == ("x", ())


def test_leading_and_trailing_whitespace_is_trimmed() -> None:
    parsed = parse_html("\n  <b> hi </b>\n\n")
    assert parsed.text == "hi"
    assert parsed.entity_dicts() == [{"type": "bold", "offset": 0, "length": 2}]


def test_empty_end_tag_closes_the_innermost_tag() -> None:
    assert entities("<b>x</>") == [{"type": "bold", "offset": 0, "length": 1}]


def test_spaces_inside_tags() -> None:
    assert entities('<a  href = "https://x.org/" >y</a >') == [
        {"type": "text_link", "offset": 0, "length": 1, "url": "https://x.org/"}
    ]


def test_unknown_attributes_are_ignored() -> None:
    assert entities('<b class="x" id=y>z</b>') == [{"type": "bold", "offset": 0, "length": 1}]


def test_unquoted_attribute_value_is_a_lowercased_name_token() -> None:
    assert entities("<span class=TG-SPOILER>x</span>") == [
        {"type": "spoiler", "offset": 0, "length": 1}
    ]


def test_html_escape_output_always_parses() -> None:
    nasty = "<script>alert('x') & \"y\"</script> 1 < 2 > 0 &amp;"
    assert parse_html(f"<b>{html.escape(nasty)}</b>").text == nasty


# --- errors, worded like Telegram's ---------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("Hello world <script>x</script>", 'Unsupported start tag "script" at byte offset 12'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b/>x", 'Unsupported start tag "b/" at byte offset 0'),
        ("<h1>x</h1>", 'Unsupported start tag "h1" at byte offset 0'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<>", 'Unsupported start tag "" at byte offset 0'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</i>", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</b></b>", "Unexpected end tag at byte offset 8"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<B>x</B>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</B>"'),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<a href="x', "Unclosed start tag at byte offset 0"),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<b>x</b y>", "Unclosed end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a =x>y</a>", 'Empty attribute name in the tag "a" at byte offset 0'),
        (
            "<a href>x</a>",
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
        ("<a href=http://x>y</a>", "Unexpected end of name token at byte offset 8"),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
        ("<tg-emoji>x</tg-emoji>", "Invalid custom emoji identifier specified"),
    ],
)
def test_errors(source: str, reason: str) -> None:
    assert error(source) == reason


def test_byte_offsets_count_utf8_bytes() -> None:
    # "é" is two bytes and "😀" four, so the tag starts at byte 2 + 4 + 1 = 7.
    assert error("é😀 <x>") == 'Unsupported start tag "x" at byte offset 7'


@pytest.mark.parametrize(
    "source",
    ["& Jerry", "&nbsp;", "&lt", "&#;", "&#0;", "&#x;", "&#1114111;", "&#xD800;", "&X;"],
)
def test_strict_mode_rejects_ampersands_that_are_not_entities(source: str) -> None:
    assert error(source).startswith('Unescaped "&" at byte offset 0')


def test_strict_mode_checks_attribute_values_too() -> None:
    assert error('<a href="https://x.org/?a=1&b=2">x</a>').startswith(
        'Unescaped "&" at byte offset 27'
    )


def test_lenient_mode_passes_bare_ampersands_through_like_telegram() -> None:
    parsed = parse_html("Tom & Jerry &nbsp; &lt", strict=False)
    assert parsed.text == "Tom & Jerry &nbsp; <"


def test_lenient_mode_still_rejects_bad_tags() -> None:
    assert error("a < b", strict=False) == 'Unsupported start tag "" at byte offset 2'


# --- helpers --------------------------------------------------------------------------------


def test_utf16_len() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("😀") == 2
    assert utf16_len("مرحبا") == 5


def test_normalize_clips_explicit_entities_to_the_text() -> None:
    result = normalize(" ab ", [Entity("bold", 0, 10)])
    assert result.text == "ab"
    assert result.entity_dicts() == [{"type": "bold", "offset": 0, "length": 2}]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com", "https://example.com/"),
        ("https://example.com/path?q=1", "https://example.com/path?q=1"),
        ("example.com", "http://example.com/"),
        ("tg://resolve?domain=x", "tg://resolve?domain=x"),
        ("javascript:alert(1)", None),
        ("https://exa mple.com", None),
        ("", None),
    ],
)
def test_normalize_link(url: str, expected: str | None) -> None:
    assert normalize_link(url) == expected
