"""The run's loss log (metrics.jsonl, one JSON object per logged step) and its plot (losses.png)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gan_cli.io.atomic import atomic_path, write_text


def append(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:  # a line cut short by a kill
            continue
    return rows


def truncate(path: Path, step: int) -> None:
    """Drop records after `step` (a resumed run re-logs them)."""
    rows = [r for r in read(path) if r.get("step", 0) <= step]
    write_text(path, "".join(json.dumps(r) + "\n" for r in rows))


def plot(metrics: Path, out: Path, title: str) -> None:
    rows = read(metrics)
    if len(rows) < 2:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({k for r in rows for k in r if "/" in k})
    loss_keys = [k for k in keys if k.endswith("/loss")]
    other = [k for k in keys if k not in loss_keys]
    fig, axes = plt.subplots(1, 2 if other else 1, figsize=(11 if other else 6, 3.6), squeeze=False)
    for ax, group, label in zip(axes[0], (loss_keys, other), ("loss", "value")):
        for k in group:
            pts = [(r["step"], r[k]) for r in rows if k in r]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=k, linewidth=1)
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=90, format="png")
    plt.close(fig)
