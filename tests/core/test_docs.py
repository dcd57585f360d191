"""The docs are plain Markdown that works: every relative link and anchor resolves, and
every ```python block of docs/hooks.md runs as written (signatures are ```py blocks)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [
        ROOT / "README.md",
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("plugins/*/README.md"),
        *ROOT.glob("examples/*/README.md"),
        ROOT / "bench" / "README.md",
    ]
)
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\S*)\n(.*?)^```", re.S | re.M)


def anchors(page: Path) -> set[str]:
    """GitHub's heading slugs: lower case, punctuation dropped, spaces to hyphens."""
    text = FENCE.sub("", page.read_text())
    slugs = set()
    for heading in re.findall(r"^#+\s+(.*)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_anchors_resolve(page):
    text = FENCE.sub("", page.read_text())
    broken = []
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"{target} (no {resolved})")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target} (no heading #{anchor})")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def hook_examples() -> dict[str, str]:
    """The ```python block of each `## register_...` section of docs/hooks.md."""
    text = (ROOT / "docs" / "hooks.md").read_text()
    examples = {}
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        title = section.split("\n", 1)[0].strip()
        blocks = [code for lang, code in FENCE.findall(section) if lang == "python"]
        if title.startswith("register_"):
            assert len(blocks) == 1, f"{title}: {len(blocks)} runnable examples"
            examples[title] = blocks[0]
    return examples


HOOK_EXAMPLES = hook_examples()


def test_every_hook_has_a_runnable_example():
    specs = (ROOT / "gba_core" / "hookspecs.py").read_text()
    hooks = re.findall(r"^def (register_\w+)", specs, re.M)
    assert len(hooks) == 7 and set(HOOK_EXAMPLES) == set(hooks)
    for hook, code in HOOK_EXAMPLES.items():
        assert f"def {hook}(self" in code, hook


@pytest.mark.parametrize("hook", HOOK_EXAMPLES)
def test_hook_example_runs(hook, tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", HOOK_EXAMPLES[hook]],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
