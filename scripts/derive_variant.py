"""A variant whose training is bitwise that of another, saved without training it again.

The Hungarian matcher (G) has no weights and plays no part in the training loss (eq. 2 needs the
learned matcher's scores), so FTGA trains exactly the network of FT, and FIG that of FI (checked:
``runs/abl-HI`` and ``runs/abl-HIG`` hold bitwise-equal weights after 700 steps of the same seed).
Only the matcher used at inference differs. This copies a run's checkpoint under the other
variant's config:

    python scripts/derive_variant.py runs/abl-HT runs/abl-HTGA HTGA
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from tessetrack.config import variant
from tessetrack.train.checkpoints import load_checkpoint, save_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", type=Path, help="run folder holding last.safetensors")
    ap.add_argument("dest", type=Path, help="new run folder")
    ap.add_argument("variant", help="the derived variant's name (e.g. HTGA, FTGA, FIG, HIG)")
    args = ap.parse_args()
    ck = load_checkpoint(args.source / "last.safetensors")
    cfg = ck.typed_config()
    new = variant(args.variant)
    old = cfg.model.variant
    if dataclasses.replace(old, matcher=new.matcher) != new or {old.matcher, new.matcher} != {
        "none",
        "hungarian",
    }:
        raise SystemExit(
            f"{args.variant} does not train exactly like {args.source}'s variant {old}: only a "
            "switch between matcher 'none' and 'hungarian' leaves the training unchanged"
        )
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, variant=new))
    args.dest.mkdir(parents=True, exist_ok=True)
    meta = {**ck.meta, "derived_from": str(args.source), "derived_variant": args.variant}
    save_checkpoint(args.dest / "last.safetensors", ck.weights, cfg, meta)
    print(f"wrote {args.dest / 'last.safetensors'} ({args.variant}, weights of {args.source})")


if __name__ == "__main__":
    main()
