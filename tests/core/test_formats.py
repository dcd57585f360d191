import pytest

from gba_core.llm.formats import PLAIN_STOPS, format_messages, format_plain, stop_strings

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello."},
    {"role": "user", "content": "Bye"},
]


def test_plain_format_is_documented_shape():
    text = format_plain(MESSAGES, eos_token="<eos>")
    assert text == (
        "Be brief.\n\n### User\nHi\n\n### Assistant\nHello.<eos>\n\n### User\nBye\n\n"
        "### Assistant\n"
    )
    assert not format_plain(MESSAGES[:2], add_generation_prompt=False).endswith("Assistant\n")


def test_plain_format_rejects_bad_roles():
    with pytest.raises(ValueError):
        format_plain([{"role": "tool", "content": "x"}])
    with pytest.raises(ValueError):
        format_plain([MESSAGES[1], MESSAGES[0]])


GEMMA_LIKE = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>"
    "{{ 'model' if m['role'] == 'assistant' else m['role'] }}\n{{ m['content'] | trim }}"
    "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def test_chat_template_is_used_when_present():
    text = format_messages(MESSAGES[1:2], chat_template=GEMMA_LIKE, bos_token="<bos>")
    assert text == "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    assert stop_strings(GEMMA_LIKE) == ()
    assert stop_strings(None) == PLAIN_STOPS


def test_chat_template_can_raise():
    template = "{{ raise_exception('no system role') }}"
    with pytest.raises(ValueError, match="no system role"):
        format_messages(MESSAGES, chat_template=template)
