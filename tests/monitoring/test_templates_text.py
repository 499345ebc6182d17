"""A template fixed before its model's baseline had text descriptors (a server upgraded in place) takes
the descriptor columns' bucket mapping and the vocabulary from the baseline, so live descriptors compare
with it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from vigil.config import parse_config
from vigil.monitoring.templates import TEMPLATE_KEY, Templates
from vigil.monitoring.texts import baseline_descriptors, with_descriptors
from vigil.stats.column import NumericProfile
from vigil.stats.profile import Profile, profile
from vigil.store.sqlite import SQLiteStore

SPEC = parse_config(
    "models:\n  bot: {task: regression, owner: {team: t}, "
    "features: {x: {type: numeric}, answer: {type: text}}}\n"
).models["bot"]


def test_an_old_template_takes_the_descriptor_columns_and_vocabulary_from_the_baseline(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(4)
    words = [" ".join(rng.choice(["a", "b", "c", "d"], size=int(rng.integers(1, 9)))) for _ in range(500)]
    base = pa.table({"x": rng.normal(size=500), "answer": words})
    described, vocabularies = baseline_descriptors(base, SPEC)
    baseline = profile(described)
    baseline.vocabularies = vocabularies
    store = SQLiteStore(tmp_path / "v.db")
    store.put_baseline(
        "bot", TEMPLATE_KEY, profile(base.select(["x"])).empty_like().to_bytes()
    )  # before text
    templates = Templates(store, lambda model: baseline)
    assert templates.vocabularies("bot") == vocabularies == {"answer": frozenset("abcd")}
    batch = with_descriptors(pa.table({"x": [0.5], "answer": ["a e"]}), SPEC, templates.vocabularies("bot"))
    assert batch.column("answer.oov").to_pylist() == [0.5]  # "e" is not in the baseline's words
    template = templates.covering("bot", batch, SPEC)
    for name in ("answer.length", "answer.tokens", "answer.oov"):
        mine, theirs = template.columns[name], baseline.columns[name]
        assert isinstance(mine, NumericProfile) and isinstance(theirs, NumericProfile)
        same = Profile(columns={name: theirs.empty_like()}).to_bytes()
        assert Profile(columns={name: mine}).to_bytes() == same, name  # the baseline's kind and mapping
    store.close()
