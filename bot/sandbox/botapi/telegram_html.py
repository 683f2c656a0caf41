"""Telegram's HTML parse mode: a strict validator that extracts message entities.

The grammar and the error messages follow the Bot API server (tdlib's HTML parser), because the
point of the fake server is to reject exactly what Telegram rejects. ``html.parser`` cannot be
used: it silently accepts unknown tags, unclosed tags and bare ``<``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

MAX_CUSTOM_EMOJI_ID = 2**63 - 1

SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)

# Entities that only change the look of the text; Telegram merges and splits these freely.
SIMPLE_FORMATTING = frozenset({"bold", "italic", "underline", "strikethrough", "spoiler"})
_CODE_LIKE = frozenset({"code", "pre"})
_QUOTES = frozenset({"blockquote", "expandable_blockquote"})

_TAG_TO_TYPE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}

# Order of entities that share a range, outermost first, as Telegram lists them.
_TYPE_RANK = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 1,
    "text_link": 2,
    "text_mention": 2,
    "bold": 3,
    "italic": 4,
    "underline": 5,
    "strikethrough": 6,
    "spoiler": 7,
    "code": 8,
    "custom_emoji": 9,
}

_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# tdlib treats NUL as whitespace and as the end of text; _Parser.char() returns it past the end.
_END = "\0"
_SPACES = frozenset(" \t\r\n\v\0")
_TRIM = " \t\r\n\v\f"
_SPECIAL = re.compile(r"[&<]")
_HOST = re.compile(r"[\w.-]+")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(error)`` is the reason Telegram would give."""


@dataclass(frozen=True)
class Entity:
    """One MessageEntity; offsets and lengths are in UTF-16 code units."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None
    user_id: int | None = None

    @property
    def end(self) -> int:
        """The UTF-16 offset just past the entity."""
        return self.offset + self.length

    def to_dict(self) -> dict[str, Any]:
        """The entity as the Bot API serialises it."""
        data: dict[str, Any] = {"type": self.type, "offset": self.offset, "length": self.length}
        if self.url is not None:
            data["url"] = self.url
        if self.type == "pre" and self.language:
            data["language"] = self.language
        if self.custom_emoji_id is not None:
            data["custom_emoji_id"] = self.custom_emoji_id
        if self.user_id is not None:
            data["user"] = {"id": self.user_id, "is_bot": False, "first_name": ""}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Entity:
        """Build an entity from Bot API JSON; raises ValueError when a field is missing."""
        kind, offset, length = data.get("type"), data.get("offset"), data.get("length")
        if not isinstance(kind, str) or not isinstance(offset, int) or not isinstance(length, int):
            raise ValueError("entity needs a string type and integer offset and length")
        user = data.get("user")
        return cls(
            type=kind,
            offset=offset,
            length=length,
            url=data.get("url"),
            language=data.get("language"),
            custom_emoji_id=data.get("custom_emoji_id"),
            user_id=user.get("id") if isinstance(user, Mapping) else None,
        )


@dataclass(frozen=True)
class FormattedText:
    """Visible text plus its entities, as a Telegram client would receive them."""

    text: str
    entities: tuple[Entity, ...] = ()

    def entity_dicts(self) -> list[dict[str, Any]]:
        """The entities as Bot API JSON."""
        return [entity.to_dict() for entity in self.entities]


# Not content.article.utf16_length: the emulator checks newsbot's output, so it counts on its own
# (a miscount shared with the bot would pass both), and it must take lone surrogates, which a JSON
# request may carry, where content's text never has them.
def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Telegram's offsets and limits."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse_html(source: str, *, strict: bool = True) -> FormattedText:
    """Parse Telegram HTML into visible text and entities; raises EntityParseError."""
    # Strict mode rejects a "&" that does not start &lt; &gt; &amp; &quot; or a numeric
    # reference ending in ";", as the Bot API documentation demands. Telegram itself passes
    # such an "&" through literally (strict=False), so strict catches escaping bugs earlier.
    return normalize(*_Parser(source, strict=strict).run())


def normalize(text: str, entities: Iterable[Entity]) -> FormattedText:
    """Apply Telegram's clean-up: nesting rules, merging, trimming and ordering of entities."""
    fixed = _merge_touching(_apply_nesting_rules([e for e in entities if e.length > 0]))
    text, fixed = _trim(text, fixed)
    return FormattedText(text, tuple(sorted(fixed, key=_sort_key)))


def link_user_id(url: str) -> int | None:
    """The user id of a ``tg://user?id=N`` link, or None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if (
        parts.scheme.lower() != "tg"
        or parts.netloc.lower() != "user"
        or parts.path not in ("", "/")
    ):
        return None
    ids = parse_qs(parts.query).get("id", [])
    if len(ids) != 1 or not ids[0].isdigit() or int(ids[0]) == 0:
        return None
    return int(ids[0])


def normalize_link(url: str) -> str | None:
    """The URL a text link would point to, or None when Telegram would drop the link."""
    url = url.strip()
    if not url or any(c.isspace() for c in url):
        return None
    if not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", url):
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not host or not _HOST.fullmatch(host):
            return None
        return urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, parts.fragment))
    if scheme in ("tg", "ton") and len(url) > len(scheme) + 1:
        return url
    return None


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    piece_index: int


class _Parser:
    """A port of the Bot API server's HTML scanner: one pass, a stack of open tags."""

    def __init__(self, source: str, *, strict: bool) -> None:
        self.src = source
        self.strict = strict
        self.pos = 0
        self.pieces: list[str] = []
        self.utf16 = 0
        self.entities: list[Entity] = []
        self.open: list[_OpenTag] = []

    def run(self) -> tuple[str, list[Entity]]:
        while self.pos < len(self.src):
            match = _SPECIAL.search(self.src, self.pos)
            stop = match.start() if match else len(self.src)
            if stop > self.pos:
                self._emit(self.src[self.pos : stop])
                self.pos = stop
            if match is None:
                break
            if match.group() == "&":
                self._ampersand()
            elif self.char(self.pos + 1) == "/":
                self._end_tag()
            else:
                self._start_tag()
        if self.open:
            name = self.open[-1].name
            raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{name}"')
        return "".join(self.pieces), self.entities

    def char(self, index: int) -> str:
        return self.src[index] if index < len(self.src) else _END

    def byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8", "surrogatepass"))

    def _emit(self, text: str) -> None:
        self.pieces.append(text)
        self.utf16 += utf16_len(text)

    def _ampersand(self) -> None:
        decoded = self._decode_entity(self.pos)
        if decoded is not None:
            char, self.pos = decoded
            self._emit(char)
            return
        if self.strict:
            raise self._bare_ampersand(self.pos)
        self._emit("&")
        self.pos += 1

    def _bare_ampersand(self, index: int) -> EntityParseError:
        return EntityParseError(
            f'Unescaped "&" at byte offset {self.byte_offset(index)}: only &lt; &gt; &amp; '
            '&quot; and numeric character references ending in ";" are supported'
        )

    def _decode_entity(self, index: int) -> tuple[str, int] | None:
        """The character a reference at ``index`` stands for, and the index after it."""
        end = index + 1
        if self.char(end) == "#":
            end += 1
            base, digits = (10, "0123456789")
            if self.char(end) == "x":
                end += 1
                base, digits = (16, "0123456789abcdefABCDEF")
            first_digit = end
            value = 0
            while self.char(end) in digits:
                value = value * base + int(self.char(end), base)
                end += 1
                # tdlib stops here too, so U+10FFFF itself is never decoded.
                if value >= 0x10FFFF:
                    return None
            if end == first_digit or value == 0 or 0xD800 <= value <= 0xDFFF:
                return None
            char = chr(value)
        else:
            while self.char(end).isascii() and self.char(end).isalpha():
                end += 1
            named = _NAMED_ENTITIES.get(self.src[index + 1 : end])
            if named is None:
                return None
            char = named
        if self.char(end) == ";":
            end += 1
        elif self.strict:
            return None
        return char, end

    def _unclosed_start(self, begin: int, name: str | None = None) -> EntityParseError:
        tag = f' "{name}"' if name else ""
        return EntityParseError(
            f"Unclosed start tag{tag} at byte offset {self.byte_offset(begin)}"
        )

    def _start_tag(self) -> None:
        begin = self.pos
        i = begin + 1
        while self.char(i) not in _SPACES and self.char(i) != ">":
            i += 1
        if self.char(i) == _END:
            raise self._unclosed_start(begin)
        name = self.src[begin + 1 : i].lower()
        where = f"at byte offset {self.byte_offset(begin)}"
        if name not in SUPPORTED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" {where}')

        argument = ""
        while self.char(i) != ">":
            while self.char(i) in _SPACES and self.char(i) != _END:
                i += 1
            if self.char(i) == ">":
                break
            if self.char(i) == _END:
                raise self._unclosed_start(begin, name)
            name_begin = i
            while self.char(i) not in _SPACES and self.char(i) not in "=>":
                i += 1
            attribute = self.src[name_begin:i]
            if not attribute:
                raise EntityParseError(f'Empty attribute name in the tag "{name}" {where}')
            while self.char(i) in _SPACES and self.char(i) != _END:
                i += 1
            if self.char(i) != "=":
                if name == "blockquote" and attribute == "expandable":
                    argument = "1"
                    continue
                raise EntityParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{name}" {where}'
                )
            i += 1
            while self.char(i) in _SPACES and self.char(i) != _END:
                i += 1
            if self.char(i) == _END:
                raise self._unclosed_start(begin, name)
            value, i = self._attribute_value(i, begin)
            argument = _tag_argument(name, attribute, value, argument)

        if name == "span" and argument != "spoiler":
            raise EntityParseError(f'Tag "span" must have class "tg-spoiler" {where}')
        self.open.append(_OpenTag(name, argument, self.utf16, len(self.pieces)))
        self.pos = i + 1

    def _attribute_value(self, i: int, tag_begin: int) -> tuple[str, int]:
        quote = self.char(i)
        if quote not in "'\"":
            # An unquoted value is an SGML name token, compared case-insensitively.
            token_begin = i
            while self.char(i).isascii() and (self.char(i).isalnum() or self.char(i) in ".-"):
                i += 1
            if self.char(i) not in _SPACES and self.char(i) != ">":
                offset = self.byte_offset(token_begin)
                raise EntityParseError(f"Unexpected end of name token at byte offset {offset}")
            return self.src[token_begin:i].lower(), i
        i += 1
        chars: list[str] = []
        while self.char(i) != quote and self.char(i) != _END:
            if self.char(i) == "&":
                decoded = self._decode_entity(i)
                if decoded is not None:
                    char, i = decoded
                    chars.append(char)
                    continue
                if self.strict:
                    raise self._bare_ampersand(i)
            chars.append(self.char(i))
            i += 1
        if self.char(i) == _END:
            raise self._unclosed_start(tag_begin)
        return "".join(chars), i + 1

    def _end_tag(self) -> None:
        begin = self.pos
        where = f"at byte offset {self.byte_offset(begin)}"
        if not self.open:
            raise EntityParseError(f"Unexpected end tag {where}")
        i = begin + 2
        while self.char(i) not in _SPACES and self.char(i) != ">":
            i += 1
        end_name = self.src[begin + 2 : i]
        while self.char(i) in _SPACES and self.char(i) != _END:
            i += 1
        if self.char(i) != ">":
            raise EntityParseError(f"Unclosed end tag {where}")
        tag = self.open[-1]
        # Like Telegram, the end tag is compared as written: "<B>x</B>" does not match.
        if end_name and end_name != tag.name:
            raise EntityParseError(
                f'Unmatched end tag {where}, expected "</{tag.name}>", found "</{end_name}>"'
            )
        self.open.pop()
        self.pos = i + 1
        if self.utf16 > tag.utf16_offset:
            self._close_entity(tag)

    def _close_entity(self, tag: _OpenTag) -> None:
        offset, length = tag.utf16_offset, self.utf16 - tag.utf16_offset
        last = self.entities[-1] if self.entities else None
        same_range = last is not None and (last.offset, last.length) == (offset, length)
        if tag.name in _TAG_TO_TYPE:
            self.entities.append(Entity(_TAG_TO_TYPE[tag.name], offset, length))
        elif tag.name == "tg-emoji":
            emoji_id = int(tag.argument) if re.fullmatch(r"-?\d+", tag.argument) else 0
            if not 0 < abs(emoji_id) <= MAX_CUSTOM_EMOJI_ID:
                raise EntityParseError("Invalid custom emoji identifier specified")
            self.entities.append(
                Entity("custom_emoji", offset, length, custom_emoji_id=str(emoji_id))
            )
        elif tag.name == "a":
            url = tag.argument or "".join(self.pieces[tag.piece_index :])
            user_id = link_user_id(url)
            if user_id is not None:
                self.entities.append(Entity("text_mention", offset, length, user_id=user_id))
            elif (link := normalize_link(url)) is not None:
                self.entities.append(Entity("text_link", offset, length, url=link))
        elif tag.name == "pre":
            if last is not None and same_range and last.type == "code" and last.language:
                self.entities[-1] = replace(last, type="pre")
            else:
                self.entities.append(Entity("pre", offset, length))
        elif tag.name == "code":
            if last is not None and same_range and last.type == "pre":
                self.entities[-1] = replace(last, language=tag.argument or None)
            else:
                self.entities.append(Entity("code", offset, length, language=tag.argument or None))
        elif tag.name == "blockquote":
            kind = "expandable_blockquote" if tag.argument else "blockquote"
            self.entities.append(Entity(kind, offset, length))


def _tag_argument(tag: str, attribute: str, value: str, current: str) -> str:
    """The one attribute Telegram keeps for a tag; every other attribute is ignored."""
    if tag == "a" and attribute == "href":
        return value
    if tag == "code" and attribute == "class" and value.startswith("language-"):
        return value.removeprefix("language-")
    if tag == "span" and attribute == "class" and value.startswith("tg-"):
        return value.removeprefix("tg-")
    if tag == "tg-emoji" and attribute == "emoji-id":
        return value
    return current


def _contains(outer: Entity, inner: Entity) -> bool:
    return outer.offset <= inner.offset and inner.end <= outer.end


def _apply_nesting_rules(entities: list[Entity]) -> list[Entity]:
    """Code and pre contain nothing; formatting is cut around them; quotes do not nest."""
    ordered = sorted(entities, key=_sort_key)
    code_like: list[Entity] = []
    quotes: list[Entity] = []
    for entity in ordered:
        if entity.type in _CODE_LIKE and not any(_contains(c, entity) for c in code_like):
            code_like.append(entity)
        if entity.type in _QUOTES and not any(_contains(q, entity) for q in quotes):
            quotes.append(entity)
    result: list[Entity] = [*code_like, *quotes]
    for entity in ordered:
        if entity.type in _CODE_LIKE or entity.type in _QUOTES:
            continue
        if entity.type in SIMPLE_FORMATTING:
            result.extend(_subtract(entity, code_like))
        elif not any(_contains(c, entity) for c in code_like):
            result.append(entity)
    return result


def _subtract(entity: Entity, holes: list[Entity]) -> list[Entity]:
    """The parts of ``entity`` outside every range in ``holes``."""
    parts = [(entity.offset, entity.end)]
    for hole in holes:
        next_parts: list[tuple[int, int]] = []
        for start, end in parts:
            if hole.end <= start or end <= hole.offset:
                next_parts.append((start, end))
                continue
            if start < hole.offset:
                next_parts.append((start, hole.offset))
            if hole.end < end:
                next_parts.append((hole.end, end))
        parts = next_parts
    return [replace(entity, offset=start, length=end - start) for start, end in parts]


def _merge_touching(entities: list[Entity]) -> list[Entity]:
    """Merge overlapping or adjacent formatting entities of one type, as Telegram does."""
    merged: list[Entity] = []
    by_type: dict[str, list[Entity]] = {}
    for entity in entities:
        if entity.type in SIMPLE_FORMATTING:
            by_type.setdefault(entity.type, []).append(entity)
        else:
            merged.append(entity)
    for same in by_type.values():
        same.sort(key=lambda e: e.offset)
        current = same[0]
        for entity in same[1:]:
            if entity.offset <= current.end:
                end = max(current.end, entity.end)
                current = replace(current, length=end - current.offset)
            else:
                merged.append(current)
                current = entity
        merged.append(current)
    return merged


def _trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Drop leading and trailing whitespace, clipping entities to what is left."""
    stripped = text.strip(_TRIM)
    lead = utf16_len(text[: len(text) - len(text.lstrip(_TRIM))])
    size = utf16_len(stripped)
    clipped: list[Entity] = []
    for entity in entities:
        start = max(entity.offset - lead, 0)
        end = min(entity.end - lead, size)
        if end > start:
            clipped.append(replace(entity, offset=start, length=end - start))
    return stripped, clipped


def _sort_key(entity: Entity) -> tuple[int, int, int]:
    return entity.offset, -entity.length, _TYPE_RANK.get(entity.type, len(_TYPE_RANK))
