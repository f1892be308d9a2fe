"""SMS encoding and segments: the worked examples providers bill by."""

import pytest

from outbound_bulk_messaging.engine.errors import SmsEncodingError
from outbound_bulk_messaging.engine.sms import (
    GSM_BASIC,
    GSM_EXTENSION,
    SmsInfo,
    analyse,
    check,
    split,
)

EMOJI = "\U0001f600"


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments", "per_segment", "remaining"),
    [
        ("", "GSM-7", 0, 0, 160, 160),
        ("a" * 160, "GSM-7", 160, 1, 160, 0),
        ("a" * 161, "GSM-7", 161, 2, 153, 145),
        ("a" * 306, "GSM-7", 306, 2, 153, 0),
        ("a" * 307, "GSM-7", 307, 3, 153, 152),
        ("ê" * 70, "UCS-2", 70, 1, 70, 0),
        ("ê" * 71, "UCS-2", 71, 2, 67, 63),
        ("ê" * 134, "UCS-2", 134, 2, 67, 0),
        ("ê" * 135, "UCS-2", 135, 3, 67, 66),
        ("{" * 80, "GSM-7", 160, 1, 160, 0),
        ("{" * 81, "GSM-7", 162, 2, 153, 143),
        (EMOJI * 35, "UCS-2", 70, 1, 70, 0),
        (EMOJI * 36, "UCS-2", 72, 2, 67, 61),
        ("€", "GSM-7", 2, 1, 160, 158),
        ("é", "GSM-7", 1, 1, 160, 159),
        ("ê", "UCS-2", 1, 1, 70, 69),
    ],
)
def test_worked_examples(text, encoding, units, segments, per_segment, remaining):
    assert analyse(text) == SmsInfo(encoding, units, segments, per_segment, remaining)
    assert len(split(text)) == segments


def test_extension_pair_never_splits_and_the_segment_holds_152():
    segments = split("{" * 81)
    assert segments == ["{" * 76, "{" * 5]  # 76 pairs = 152 septets: a 77th pair would be 154


def test_pair_at_the_boundary_moves_to_the_next_segment():
    # The brief's "152 'a' + '{' + 'b'" is 155 septets: one SMS, nothing to move.
    assert split("a" * 152 + "{b") == ["a" * 152 + "{b"]
    # With enough text to be concatenated, the escape pair cannot take septets 153-154.
    text = "a" * 152 + "{" + "b" * 10
    assert split(text) == ["a" * 152, "{" + "b" * 10]
    assert analyse(text).segments == 2


def test_message_full_of_extension_characters():
    text = "{" * 500  # 1000 septets, 76 pairs per segment
    segments = split(text)
    assert analyse(text) == SmsInfo("GSM-7", 1000, 7, 153, 153 - 2 * 44)
    assert [len(s) for s in segments] == [76] * 6 + [44]
    assert "".join(segments) == text


def test_emoji_never_split_across_segments():
    text = EMOJI * 36
    segments = split(text)
    assert segments == [EMOJI * 33, EMOJI * 3]  # 33 pairs = 66 units: a 34th would be 68
    assert all(len(s.encode("utf-16-le")) // 2 <= 67 for s in segments)


def test_one_character_outside_gsm_makes_the_whole_message_ucs2():
    text = "a" * 100 + "ê"
    assert analyse(text) == SmsInfo("UCS-2", 101, 2, 67, 67 - 34)


def test_gsm_tables():
    for char in "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./09:;<=>?¡AZÄÖÑÜ§¿azäöñüà":
        assert char in GSM_BASIC and analyse(char).units == 1, char
    for char in "\x0c^{}\\[~]|€":
        assert char in GSM_EXTENSION and analyse(char) == SmsInfo("GSM-7", 2, 1, 160, 158), char
    for char in "êçÀ`\tš":
        assert analyse(char).encoding == "UCS-2", char


@pytest.mark.parametrize(
    ("text", "char", "position"),
    [
        ("ab\x07c", "U+0007", 3),
        ("\x00", "U+0000", 1),
        ("tab\there", "U+0009", 4),
        ("a\x1bb", "U+001B", 2),
        ("del\x7f", "U+007F", 4),
        ("lone \ud83d surrogate", "U+D83D", 6),
        ("x\ufffe", "U+FFFE", 2),
        ("x\uffff", "U+FFFF", 2),
    ],
)
def test_check_refuses_unsendable_characters(text, char, position):
    with pytest.raises(SmsEncodingError) as info:
        check(text)
    assert f"Character {char} at position {position}" in str(info.value)


def test_check_accepts_line_breaks_and_form_feed():
    assert check("a\r\nb\x0cc") == analyse("a\r\nb\x0cc")


def test_check_segment_limit():
    assert check("a" * 459, max_segments=3).segments == 3
    with pytest.raises(SmsEncodingError) as info:
        check("a" * 460, max_segments=3)
    assert str(info.value) == "The message renders to 4 SMS segments, the template allows 3"
