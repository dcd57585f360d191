"""Context-aware decoding on the real embedded model (``gba_core.llm.llamacpp_contrast``)."""

QUESTION_ALONE = "What is the capital of France? Answer in one word."
IN_CONTEXT = [
    {"role": "user", "content": f"In this story, the capital of France is Lyon.\n{QUESTION_ALONE}"}
]
ALONE = [{"role": "user", "content": QUESTION_ALONE}]


def _next_logits(embedded, messages):
    model = embedded._model
    return _next_logits_of(model, model.tokenize_prompt(embedded.render(messages)))


def test_contrast_picks_by_the_difference_of_the_two_contexts_logits(embedded):
    import numpy as np

    from gba_core.llm.base import Contrast

    weight = 2.0
    with_context, without = _next_logits(embedded, IN_CONTEXT), _next_logits(embedded, ALONE)
    expected = int(np.argmax((1 + weight) * with_context - weight * without))
    assert expected != int(np.argmax(with_context))  # a case where the contrast decides
    first = embedded.complete(IN_CONTEXT, max_tokens=1, contrast=Contrast(ALONE, weight))
    assert first.content == embedded._model.piece(expected).decode() == "Lyon"
    # Until the output holds `after`, nothing is contrasted.
    plain = embedded.complete(IN_CONTEXT, max_tokens=8).content
    gated = embedded.complete(IN_CONTEXT, max_tokens=8, contrast=Contrast(ALONE, weight, "@@"))
    assert gated.content == plain != first.content


# A preamble longer than two prompt chunks, so that the contrast's prompt shares cells.
PREAMBLE = "Read the story below and answer the question after it in one word. " * 12
STORY = [
    {
        "role": "user",
        "content": f"{PREAMBLE}\nIn this story, the capital of France is Lyon.\n{QUESTION_ALONE}",
    }
]
NO_STORY = [{"role": "user", "content": f"{PREAMBLE}\n{QUESTION_ALONE}"}]


def _contrast_greedy(embedded, with_context, without, weight, n):
    """Greedy contrast decoding by hand, both prompts and what was written each evaluated
    on its own: the tokens, and how many were chosen with the contrast."""
    import numpy as np

    from gba_core.llm.llamacpp_contrast import CONTRAST_BELOW

    model, out, contrasted = embedded._model, [], 0
    for _ in range(n):
        logits = _next_logits_of(model, with_context + out)
        probs = np.exp(logits - logits.max())
        if probs.max() / probs.sum() < CONTRAST_BELOW:
            logits = (1 + weight) * logits - weight * _next_logits_of(model, without + out)
            contrasted += 1
        token = int(np.argmax(logits))
        if model.is_eog(token):
            break
        out.append(token)
    return out, contrasted


def _next_logits_of(model, tokens):
    import numpy as np

    with model.lock:
        model._eval_prompt(tokens)
        return np.array(model.logits(), copy=True)


def test_the_contrast_shares_the_prompts_cells_and_decodes_with_it(embedded):
    from gba_core.llm.llamacpp_chunks import PROMPT_CHUNK
    from gba_core.llm.llamacpp_contrast import ContrastRun

    model, weight = embedded._model, 2.0
    story = model.tokenize_prompt(embedded.render(STORY))
    no_story = model.tokenize_prompt(embedded.render(NO_STORY))
    common = next(i for i, (a, b) in enumerate(zip(story, no_story, strict=False)) if a != b)
    assert common >= 2 * PROMPT_CHUNK
    expected, contrasted = _contrast_greedy(embedded, story, no_story, weight, 6)
    assert 0 < contrasted < 6  # the case has tokens the model hesitates on, and others

    def generate(contrast):
        with model.lock:
            return model.generate(
                story,
                gbnf=None,
                temperature=0.0,
                max_tokens=6,
                seed=None,
                stops=(),
                contrast=contrast,
            )

    plain, warm = generate(None), generate(None)
    both = generate(ContrastRun(no_story, weight))
    assert both.text == b"".join(model.piece(t) for t in expected).decode()
    assert both.text != plain.text
    assert both.contrasted == contrasted
    # Only what follows the shared chunks was fed to the contrast's sequence, up to the
    # last token it was needed for.
    shared = common // PROMPT_CHUNK * PROMPT_CHUNK
    assert len(no_story) - shared <= both.contrast_evaluated < len(no_story) - shared + 6
    # The second sequence leaves nothing behind: the prompt's cache serves the next call.
    again = generate(None)
    assert again.text == plain.text
    assert again.evaluated == warm.evaluated < PROMPT_CHUNK
