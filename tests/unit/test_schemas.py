import pytest
from marshmallow import ValidationError

from chatio.schemas import HistorySchema, JoinSchema, message_schema

MESSAGE = message_schema(max_chars=5)


def test_text_is_trimmed_of_unicode_whitespace() -> None:
    assert MESSAGE.load({"room": "r", "text": "\u3000 hi\n\u00a0"})["text"] == "hi"


def test_length_counts_code_points() -> None:
    assert MESSAGE.load({"room": "r", "text": "😀" * 5})["text"] == "😀" * 5
    with pytest.raises(ValidationError):
        MESSAGE.load({"room": "r", "text": "😀" * 6})


@pytest.mark.parametrize("text", ["", "   ", "a\x00", "a\x1b", "a\rb", "a\x7f", "\ud800"])
def test_bad_text_is_refused(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        MESSAGE.load({"room": "r", "text": text})
    assert "text" in info.value.messages


def test_newline_and_tab_are_allowed() -> None:
    assert MESSAGE.load({"room": "r", "text": "a\tb\nc"})["text"] == "a\tb\nc"


@pytest.mark.parametrize("payload", [
    None, [], "join", 5, {"room": "has space"}, {"room": "x" * 65}, {"room": 5}, {"room": "lobby\n"}, {"room": ""},
    {"room": "r", "since": True}, {"room": "r", "since": "3"}, {"room": "r", "since": -1},
    {"room": "r", "since": 1.5}, {"room": "r", "limit": 201}, {"room": "r", "extra": 1},
    {"room": b"bytes"}])
def test_hostile_join_payloads_are_refused(payload: object) -> None:
    with pytest.raises(ValidationError):
        JoinSchema().load(payload)


def test_join_defaults_limit() -> None:
    assert JoinSchema().load({"room": "a.b:c@d-e_f"}) == {"room": "a.b:c@d-e_f", "limit": 50}


def test_history_takes_one_direction() -> None:
    with pytest.raises(ValidationError):
        HistorySchema().load({"room": "r", "before": 3, "after": 1})


@pytest.mark.parametrize("client_id", ["", "x" * 65, "a\nb", 7])
def test_bad_client_ids_are_refused(client_id: object) -> None:
    with pytest.raises(ValidationError):
        MESSAGE.load({"room": "r", "text": "hi", "client_id": client_id})
