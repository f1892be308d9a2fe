"""The keyword classifier of inbound SMS: opt-out, opt-in, or a reply for a person."""

import pytest

from outbound_bulk_messaging.engine.keywords import (
    OPT_IN,
    OPT_OUT,
    REPLY,
    classify,
    fold,
    parse_keywords,
)


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " stop. ",
        "Stop!",
        "«STOP»",
        "STOP 🙏",
        "\tStopAll\n",
        "unsubscribe",
        "Cancel.",
        "END",
        "quit?!",
        "ＳＴＯＰ",
    ],
)
def test_the_word_alone_opts_out(text):
    assert classify(text) == OPT_OUT


@pytest.mark.parametrize("text", ["START", " start! ", "Unstop", "unstop."])
def test_start_and_unstop_opt_in(text):
    assert classify(text) == OPT_IN


@pytest.mark.parametrize(
    "text",
    [
        "don't stop calling me",
        "STOP STOP",
        "stop please",
        "S T O P",
        "stopped",
        "un-subscribe",
        "Please call me back",
        "",
        "   ",
        "?!",
        "ARRET",  # not a default word
        "x" * 500,
    ],
)
def test_anything_else_is_a_reply(text):
    assert classify(text) == REPLY


def test_gateway_words_opt_out_whatever_the_case_and_accents():
    extra = parse_keywords("ARRET, Stopp,,  baja ,")
    assert extra == {"ARRET", "STOPP", "BAJA"}
    for text in ("arret", "Arrêt !", "ARRÊT", "stopp", "Baja."):
        assert classify(text, extra) == OPT_OUT, text
    # Accents typed in the setting are folded too.
    assert classify("arret", parse_keywords("ARRÊT")) == OPT_OUT
    assert classify("Arrêtez de m'appeler", extra) == REPLY


def test_a_word_both_opt_in_and_opt_out_opts_out():
    assert classify("start", parse_keywords("START")) == OPT_OUT


def test_fold():
    assert fold("Arrêt") == "ARRET"
    assert fold("straße") == "STRASSE"
    assert parse_keywords(None) == frozenset()
