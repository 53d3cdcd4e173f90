"""The bundled model cards against the research record: the recipe a card names and the benchmark it quotes."""

import json
from pathlib import Path

from scorematch.pretrained import available
from scorematch.serialization import load_info
from scorematch_paper.experiments.restoration import RECIPE


def test_foe_card_quotes_the_training_benchmark_and_names_the_files_recipe():
    """The card's recreate recipe is the file's, and its sentence on today's recipe quotes the benchmark."""
    root = Path(__file__).resolve().parents[2]
    entry = {m["name"]: m for m in available()}["foe_5x5x24"]
    card = " ".join(entry["card"].read_text().split())
    recipe, earlier = load_info(entry["path"])["extra"]["recipe"], RECIPE.replace(lr=0.05, steps=12000).to_dict()
    assert {k: recipe[k] for k in earlier if k in recipe} == {k: v for k, v in earlier.items() if k in recipe}
    assert "recipe=RECIPE.replace(lr=0.05, steps=12000)" in card
    measured = json.loads((root / "docs" / "results" / "benchmarks" / "train_foe_cpu.json").read_text())
    assert measured["recipe"] == RECIPE.to_dict() and measured["reaches_card_quality"]
    assert f"--baseline {measured['baseline']['rev']}" in card
    assert f"in {measured['baseline']['train_seconds_total']:.1f} s" in card
    assert f"today's in {measured['train_seconds_total']:.1f} s ({measured['time_ratio_to_baseline']:.2f}x)" in card
    assert " / ".join(f"{q['difference']:+.3f}" for q in measured["card_quality"].values()) in card
