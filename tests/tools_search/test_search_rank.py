"""The extracted answer: shared words and the kind of answer asked for count beside
the embedder's similarity."""

from __future__ import annotations

import pytest

from gba_tools_search import rank
from gba_tools_search.answer import Found, extract

APOLLO = Found(
    "Apollo 11",
    "apollo_11.md",
    [
        "Apollo 11 launched on a Saturn V rocket from the Kennedy Space Center on 16 July 1969. "
        "The crew of Apollo 11 were Neil Armstrong, Buzz Aldrin and Michael Collins. "
        "The Apollo 11 lunar module Eagle landed in the Sea of Tranquility on 20 July 1969."
    ],
)


def test_terms_drop_question_words_and_meet_inflections():
    assert rank.terms("When did the module land?") == rank.terms("module landed")
    assert rank.terms("Who launched it?") == {"launch"}


def test_rare_shared_words_count_for_more_than_common_ones():
    sentences = ["Apollo flew far.", "Apollo landed.", "Apollo launched."]
    shares = rank.overlap("Apollo landed", sentences)
    assert shares[1] == max(shares) and shares[1] > shares[0]
    assert shares[0] == shares[2] > 0  # "Apollo" alone, in every sentence


def test_the_answer_kind_follows_the_question():
    sentences = ["It opened in 1914.", "It is 82 km long.", "It is a canal."]
    assert rank.answer_kind("When did it open?", sentences) == [1.0, 0.0, 0.0]
    assert rank.answer_kind("How long is it?", sentences) == [1.0, 1.0, 0.0]
    assert rank.answer_kind("Who built it?", sentences) is None


def test_the_landing_sentence_answers_when_the_embedder_alone_prefers_the_launch(
    monkeypatch: pytest.MonkeyPatch,
):
    task = "When did Apollo 11 land on the Moon?"
    assert (
        extract(task, "", [APOLLO])
        .split("\n")[0]
        .startswith("The Apollo 11 lunar module Eagle landed")
    )
    monkeypatch.setattr(rank, "LEXICAL", 0.0)
    monkeypatch.setattr(rank, "ANSWER_KIND", 0.0)
    assert extract(task, "", [APOLLO]).split("\n")[0].startswith("Apollo 11 launched")
