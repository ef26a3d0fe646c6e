"""``python -m vidconv.experiments list | run NAME [--setting S] [--out F]``."""

from __future__ import annotations

import argparse
import sys

from vidconv.experiments import studies
from vidconv.experiments.studies.runner import SETTINGS, fits, save
from vidconv.utils.table import Table


def estimated_minutes(study: studies.Study, setting: str) -> str:
    """An upper bound: every run to its last epoch, at the stored pace."""
    if study.name not in studies.stored():
        return "not measured"
    kept = studies.load(study.name)
    epochs = sum(len(r["history"]) for r in kept["runs"]) + sum(
        t["epochs"] for arm in kept["lr"].values() for t in arm["tried"]
    )
    per_epoch = kept["provenance"]["wall_seconds"] / epochs
    config = study.settings[setting]
    arms = len(kept["lr"])
    worst = fits(config, arms) * config.budget.max_epochs * per_epoch
    return f"<= {worst / 60:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vidconv.experiments")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the studies and their CPU time")
    run = commands.add_parser("run", help="run one study, write its JSON")
    run.add_argument("name")
    run.add_argument("--setting", default="quick", choices=SETTINGS)
    run.add_argument("--out", help="JSON file (default NAME-SETTING.json)")
    run.add_argument("--device", default="cpu")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.command == "list":
        rows = [
            {
                "study": s.name,
                "chapter": s.chapter,
                "question": s.question,
                **{f"{k} CPU min": estimated_minutes(s, k) for k in SETTINGS},
                "stored": s.name in studies.stored(),
            }
            for s in map(studies.get, studies.names())
        ]
        print(Table(rows))
        return 0
    try:
        study = studies.get(args.name)
    except ValueError as err:
        parser.error(str(err))
    result = studies.run_study(
        study,
        args.setting,
        device=args.device,
        command=" ".join([parser.prog, *argv]),
    )
    out = save(result, args.out or f"{args.name}-{args.setting}.json")
    print(f"wrote {out}: {studies.provenance_line(result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
