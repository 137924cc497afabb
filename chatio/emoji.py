"""Whether a string is one emoji grapheme: the only text a reaction may be.

Accepted shapes, each at most ``MAX_EMOJI_CODE_POINTS`` code points:

* a pictographic character, optionally followed by VS16 (U+FE0F) or a skin
  tone modifier, optionally joined to more of them by ZWJ (U+200D);
* a flag: two regional indicators, or U+1F3F4 with tag characters ending
  in U+E007F (subdivision flags);
* a keycap: ``0-9 # *``, optionally VS16, then U+20E3.

It is a structural check, not the full Unicode emoji list: it refuses
letters, digits, spaces, controls and several emoji in a row, which is what
keeps a reaction a reaction.
"""
from __future__ import annotations

from .constants import MAX_EMOJI_CODE_POINTS

VS16 = 0xFE0F
ZWJ = 0x200D
KEYCAP = 0x20E3
BLACK_FLAG = 0x1F3F4
TAG_END = 0xE007F

# Ranges holding the pictographic characters of Unicode's emoji set.
_PICTOGRAPHIC = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049),
    (0x2122, 0x2122), (0x2139, 0x2139), (0x2194, 0x21AA), (0x231A, 0x23FF),
    (0x24C2, 0x24C2), (0x25AA, 0x25FE), (0x2600, 0x27BF), (0x2934, 0x2935),
    (0x2B05, 0x2B55), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3297),
    (0x3299, 0x3299), (0x1F000, 0x1F1E5), (0x1F200, 0x1F3FA),
    (0x1F400, 0x1FAFF),
)


def _pictographic(cp: int) -> bool:
    return any(low <= cp <= high for low, high in _PICTOGRAPHIC)


def _regional(cp: int) -> bool:
    return 0x1F1E6 <= cp <= 0x1F1FF


def _skin_tone(cp: int) -> bool:
    return 0x1F3FB <= cp <= 0x1F3FF


def _tag(cp: int) -> bool:
    return 0xE0020 <= cp <= 0xE007E


def is_emoji(text: str) -> bool:
    """Whether ``text`` is exactly one emoji grapheme."""
    cps = [ord(ch) for ch in text]
    if not 0 < len(cps) <= MAX_EMOJI_CODE_POINTS:
        return False
    if len(cps) == 2 and all(_regional(cp) for cp in cps):
        return True
    if text[0] in "0123456789#*":
        return cps[1:] in ([KEYCAP], [VS16, KEYCAP])
    return _zwj_sequence(cps)


def _zwj_sequence(cps: list[int]) -> bool:
    i, n = 0, len(cps)
    while True:
        if i >= n or not _pictographic(cps[i]):
            return False
        base = cps[i]
        i += 1
        if i < n and (cps[i] == VS16 or _skin_tone(cps[i])):
            i += 1
        elif base == BLACK_FLAG and i < n and _tag(cps[i]):
            while i < n and _tag(cps[i]):
                i += 1
            if i >= n or cps[i] != TAG_END:
                return False
            i += 1
        if i == n:
            return True
        if cps[i] != ZWJ:
            return False
        i += 1
