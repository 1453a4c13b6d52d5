"""The shipped pretrained model: a trained model's folder copied into the package, with its hash.

The folder is the one model folder format (`model.safetensors` + `config.json`, see
`persistence/model_folder.py`), so the catalog's `pretrained_model` reads it as it reads any model.
`config.json`'s metadata gains `weights_sha256` and where the weights came from; the model card
(`MODEL_CARD.md` beside them, its prose kept) gets the facts `serving/card.py` measures (the
hash, the parameter count, the front end, the mAP on a small synthetic slice), and a test
measures them again, so card and weights cannot drift apart.

    python -m coverhunter.serving.ship data/06_models/pretrain/coarse_model/<version>/coarse_model
"""

from __future__ import annotations

import argparse
from pathlib import Path

from coverhunter.persistence.model_folder import load_model_folder, save_model_folder
from coverhunter.serving.card import CARD_FILE, measured_facts, weights_sha256, with_facts

SHIPPED = Path(__file__).resolve().parents[1] / "pretrained" / "base"


def ship(source: Path, target: Path = SHIPPED, note: str = "") -> str:
    """Copy the model in `source` to `target` in the one model folder format (a card already
    there is kept), recording the weights' sha256 and `source` in its metadata. Returns the
    sha256. Raises ModelFolderError naming `source` when it is not a whole, loadable model."""
    source, target = Path(source), Path(target)
    model, metadata = load_model_folder(source)
    # the hash is of the weights as written here; the second save writes the same tensors,
    # hence the same bytes, beside a config that now states their hash
    save_model_folder(target, model, metadata)
    sha = weights_sha256(target)
    shipped = {**metadata, "weights_sha256": sha, "shipped_from": str(source), "note": note}
    save_model_folder(target, model, shipped)
    return sha


def write_card_facts(folder: Path) -> dict:
    """Measure the shipped folder's card facts and write them into its card (created when
    absent, its prose kept when present). Returns the facts."""
    facts = measured_facts(folder)
    card = Path(folder) / CARD_FILE
    text = card.read_text(encoding="utf-8") if card.exists() else "# Model card\n"
    card.write_text(with_facts(text, facts), encoding="utf-8")
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description="Ship a trained model folder as the package's.")
    parser.add_argument("source", type=Path, help="a saved model folder (model.safetensors)")
    parser.add_argument("--to", type=Path, default=SHIPPED)
    parser.add_argument("--note", default="", help="what this model is, for its metadata")
    args = parser.parse_args()
    print(ship(args.source, args.to, args.note))
    for name, value in write_card_facts(args.to).items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
