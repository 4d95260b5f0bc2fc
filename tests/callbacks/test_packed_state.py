"""Callback state whose shape grows, through a sharded (DCP) checkpoint and back.

DCP loads into the shape of the running state dict: a fresh callback (no swap yet, no rollback)
asks for ``history`` where the checkpoint holds ``history.0.step`` ... A sharded run with the
hot-swap recipe died resuming after its first swap ("Missing key in checkpoint state_dict:
state.callbacks.HotSwap.history"). This saves a swapped HotSwap's and a rolled-back LossSpike's
state with ``dcp.save`` as Composer does and loads it into fresh callbacks' shapes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from csmpt.callbacks.hot_swap import HotSwap
from csmpt.callbacks.loss_spike import LossSpike
from csmpt.callbacks.packed_state import pack, unpack


def _hot_swap(tmp_path: Path) -> HotSwap:
    for name in ("a", "b"):  # MDS folders as check_swaps wants them (nothing reads the shards)
        (tmp_path / name / "train").mkdir(parents=True, exist_ok=True)
        (tmp_path / name / "train" / "index.json").write_text('{"version": 2, "shards": []}')
    cfg = {
        "save_folder": str(tmp_path / "run"),
        "train_loader": {
            "name": "text",
            "dataset": {"local": str(tmp_path / "a"), "split": "train"},
        },
        "device_train_batch_size": 2,
        "max_duration": "30ba",
    }
    swaps = [{"name": "b", "at": "14ba", "dataset": {"local": str(tmp_path / "b")}}]
    return HotSwap(cfg, swaps)


def _loss_spike(tmp_path: Path) -> LossSpike:
    return LossSpike({"save_folder": str(tmp_path / "run")})


def _roundtrip(saved: dict[str, Any], fresh: dict[str, Any], folder: Path) -> dict[str, Any]:
    import torch.distributed.checkpoint as dcp

    dcp.save({"state": {"callbacks": saved}}, checkpoint_id=str(folder), no_dist=True)
    target = {"state": {"callbacks": fresh}}
    dcp.load(target, checkpoint_id=str(folder), no_dist=True)  # raised Missing key before
    return target["state"]["callbacks"]


def test_a_swapped_hot_swap_and_a_rolled_back_spike_resume_from_a_sharded_checkpoint(
    tmp_path: Path,
) -> None:
    swapped = _hot_swap(tmp_path)
    record = {"index": 1, "name": "b", "dataset": {"local": str(tmp_path / "b")}}
    record |= {"reset_optimizer": False, "at": swapped.swaps[0].describe(), "step": 14}
    swapped._history = [record]  # noqa: SLF001 - the state after the swap at step 14
    swapped._segment = 1  # noqa: SLF001
    spiked = _loss_spike(tmp_path)
    spiked.rollbacks = [{"step": 9, "to": 5}]
    saved = {"HotSwap": swapped.state_dict(), "LossSpike": spiked.state_dict()}
    fresh = {
        "HotSwap": _hot_swap(tmp_path).state_dict(),
        "LossSpike": _loss_spike(tmp_path).state_dict(),
    }
    loaded = _roundtrip(saved, fresh, tmp_path / "ckpt")
    resumed, spike = _hot_swap(tmp_path), _loss_spike(tmp_path)
    resumed.load_state_dict(loaded["HotSwap"])
    spike.load_state_dict(loaded["LossSpike"])
    assert resumed._history == [record] and resumed._segment == 1  # noqa: SLF001
    assert spike.rollbacks == [{"step": 9, "to": 5}]


def test_a_monolithic_checkpoint_saved_before_packing_still_loads(tmp_path: Path) -> None:
    spike = _loss_spike(tmp_path)
    spike.load_state_dict({"rollbacks": [{"step": 3, "to": 1}], "count": 1})  # the old shape
    assert spike.rollbacks == [{"step": 3, "to": 1}] and spike.count == 1
    assert unpack(pack([{"a": None}])) == [{"a": None}] and unpack([1]) == [1]
