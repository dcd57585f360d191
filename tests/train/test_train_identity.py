"""Train/inference identity: a packaged example has the same token ids when gba-train
encodes it and when the llama-cpp: backend renders and tokenizes it, for the embedded
model's plain format and for a model that carries a chat template."""

from datetime import date

import pytest

from gba_core.llm.llamacpp import LlamaCppLLM
from gba_core.planners import FineTunedPlanner
from gba_core.schema import Plan, Request, Step, Trajectory
from gba_sim.package import examples_of
from gba_train.base import prepare_base
from gba_train.data import IGNORE, Renderer, encode

pytestmark = pytest.mark.integration

# A Gemma-style chat template that writes the BOS token itself.
TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>"
    "{{ 'model' if m['role'] == 'assistant' else 'user' }}\n{{ m['content'] }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(prepare_base("gemma-3-270m").path)


@pytest.fixture(scope="module")
def example():
    plan = Plan(
        context_information_summary="The user wants the director of Jaws.",
        thoughts="Search the encyclopedia.",
        task="Find who directed the film Jaws.",
        selected_tool="search_wikipedia",
    )
    answer = Plan(
        context_information_summary="Spielberg directed Jaws.",
        thoughts="Enough to answer.",
        task="Answer: Steven Spielberg.",
        selected_tool="final_answer",
    )
    trajectory = Trajectory(
        request=Request(text="Who directed the film Jaws?"),
        steps=[
            Step(index=0, plan=plan, observation="Jaws (1975) was directed by Steven Spielberg."),
            Step(index=1, plan=answer, observation="Steven Spielberg."),
        ],
        today=date(2026, 11, 2),
    )
    return examples_of(trajectory, ["search_wikipedia", "final_answer"])[1]


@pytest.mark.parametrize("template", [None, TEMPLATE], ids=["plain format", "chat template"])
def test_training_and_inference_see_the_same_token_ids(tokenizer, example, template):
    tokenizer.chat_template = template
    renderer = Renderer.for_tokenizer(tokenizer)
    llm = LlamaCppLLM("gemma-3-270m", chat_template=template)
    # The fine-tuned planner, replanning the packaged step, asks with the same messages.
    planner = FineTunedPlanner(dict.fromkeys(["search_wikipedia", "final_answer"]), llm)
    prompt = [m.model_dump() for m in example.prompt]
    completion = [m.model_dump() for m in example.completion]
    assert planner.messages(example.request, example.scratchpad, today=example.today) == prompt
    prompt_text, completion_text = renderer.texts(prompt, completion)
    assert prompt_text == llm.render(prompt)
    assert "Steven Spielberg" in prompt_text  # the earlier step's result is in the prompt
    assert "Today is Monday, 2026-11-02." in prompt_text  # the trajectory's date, not ours
    inference_prompt = llm.tokenize(llm.render(prompt))
    (encoded,) = encode([example], renderer).examples
    assert encoded["input_ids"][: len(inference_prompt)] == inference_prompt
    # What the model is trained to write is what llama.cpp reads back as the answer.
    assert encoded["input_ids"] == llm.tokenize(llm.render(prompt) + completion_text)
    labels = encoded["labels"]
    assert labels[: len(inference_prompt)] == [IGNORE] * len(inference_prompt)
    assert tokenizer.decode(labels[len(inference_prompt) :]).startswith('{"selected_tool')
    # The turn ends as inference stops: on the EOS token, or the template's end of turn.
    assert ("<end_of_turn>" if template else tokenizer.eos_token) in tokenizer.decode(labels[-2:])


def test_long_examples_are_cut_and_counted_and_prompt_only_ones_dropped(tokenizer, example):
    tokenizer.chat_template = None
    renderer = Renderer.for_tokenizer(tokenizer)
    (full,) = encode([example], renderer).examples
    prompt_length = full["labels"].count(IGNORE)
    cut = encode([example], renderer, max_length=prompt_length + 3)
    assert cut.truncated == 1 and cut.dropped == 0
    assert cut.examples[0]["input_ids"] == full["input_ids"][: prompt_length + 3]
    gone = encode([example], renderer, max_length=prompt_length)
    assert gone.truncated == 1 and gone.dropped == 1 and gone.examples == []
    whole = encode([example], renderer, completion_only=False).examples[0]
    assert whole["labels"] == whole["input_ids"]  # loss on the full text
