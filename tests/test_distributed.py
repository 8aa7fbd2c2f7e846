"""Tests for course_lib.distributed: two gloo processes on the CPU train exactly like one
process on the same global batch."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from tiny_training import PAIRS, TINY_FIELDS, tiny_model, tokenizers, train_command

from course_lib.distributed import DistributedContext, launched_by_torchrun, shard
from course_lib.errors import CourseLibError
from course_lib.trainer import Trainer, TrainSettings

pytestmark = pytest.mark.usefixtures("one_thread")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(context: DistributedContext | None) -> tuple[list[float], list]:
    torch.set_num_threads(1)
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    settings = TrainSettings(
        batch_size=6,
        max_steps=4,
        warmup_steps=2,
        lr_scale=0.5,
        log_every=1,
        eval_every=100,
        device="cpu",
        precision="fp32",  # exact sums: bf16 products round differently for each share's shape
        progress=False,
    )
    trainer = Trainer(model, src_tok, tgt_tok, PAIRS, None, settings, context=context)
    history = trainer.fit()
    weights = [(n, p.detach().clone()) for n, p in model.named_parameters()]
    return [r["loss"] for r in history.train], weights


def _worker(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(world_size),
    )
    context = DistributedContext.from_env("cpu")
    try:
        assert context.backend == "gloo" and context.world_size == world_size
        losses, weights = _train(context)
        torch.save({"losses": losses, "weights": weights}, f"{out}.{rank}")
    finally:
        context.close()


def test_two_gloo_processes_match_one_process(tmp_path):
    single_losses, single_weights = _train(None)
    out = str(tmp_path / "result")
    mp.spawn(_worker, args=(2, _free_port(), out), nprocs=2, join=True)
    for rank in range(2):
        result = torch.load(f"{out}.{rank}", weights_only=True)
        # every process reports the loss of the whole global batch ...
        assert result["losses"] == pytest.approx(single_losses, rel=1e-5, abs=1e-6)
        # ... and ends with the same weights as the single process. Except the key biases:
        # adding b to every key adds q.b to a whole row of scores, which softmax ignores,
        # so their true gradient is 0 and what is left is rounding noise (~1e-9) that Adam
        # (eps 1e-9) turns into a full-size step in a random direction. They cannot change
        # any output, which the equal losses confirm.
        for (name, a), (_, b) in zip(single_weights, result["weights"]):
            if name.endswith("k_proj.bias"):
                continue
            if name.endswith("in_proj.bias"):  # rows [d, 2d) are the key bias
                d = a.numel() // 3
                a, b = torch.cat([a[:d], a[2 * d :]]), torch.cat([b[:d], b[2 * d :]])
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-4), name
    assert single_losses[-1] < single_losses[0]


def test_shard_and_single_context():
    assert shard([10, 11, 12, 13, 14, 15], 0, 2) == [10, 12, 14]
    assert shard([10, 11, 12, 13, 14, 15], 1, 2) == [11, 13, 15]
    assert sorted(
        shard(list(range(9)), 0, 3) + shard(list(range(9)), 1, 3) + shard(list(range(9)), 2, 3)
    ) == list(range(9))
    with pytest.raises(CourseLibError, match="rank"):
        shard([1, 2], 2, 2)
    context = DistributedContext.single("cpu")
    assert context.is_main and not context.distributed
    model = torch.nn.Linear(2, 2)
    assert context.wrap(model) is model
    value = torch.tensor(3.0)
    assert context.all_reduce_sum(value) is value
    assert context.agree_max(1.5) == 1.5 and context.agree_any(True)
    context.barrier()
    context.close()


def test_from_env_without_torchrun_is_a_single_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert not launched_by_torchrun()
    assert not DistributedContext.from_env("cpu").distributed
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("RANK", raising=False)
    assert launched_by_torchrun()
    with pytest.raises(CourseLibError, match="launch with torchrun"):
        DistributedContext.from_env("cpu")
    monkeypatch.setenv("WORLD_SIZE", "many")
    assert not launched_by_torchrun()


def test_batch_size_must_split_evenly_across_processes():
    src_tok, tgt_tok = tokenizers()
    model = tiny_model(src_tok, tgt_tok)
    context = DistributedContext(
        0, 4, 0, torch.device("cpu"), "gloo"
    )  # not initialised: only sizes
    with pytest.raises(CourseLibError, match="divisible by the number of processes"):
        Trainer(
            model,
            src_tok,
            tgt_tok,
            PAIRS,
            None,
            TrainSettings(batch_size=6, max_steps=1, device="cpu"),
            context=context,
        )


@pytest.mark.slow
def test_course_lib_train_under_torchrun(tmp_path):
    corpus = tmp_path / "pairs.tsv"
    corpus.write_text("".join(f"{e}\t{f}\n" for e, f in PAIRS * 3), encoding="utf-8")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**TINY_FIELDS, "training": {"eval_every": 2, "batch_size": 4}}))
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            f"--master_port={_free_port()}",
            "-m",
            "course_lib.cli",
            *train_command(corpus, out, "--config", config, "--steps", 4),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=Path(__file__).parent,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["steps"] == 4
    assert (out / "checkpoint.pt").is_file()
    assert result.stdout.count("training on") == 1  # only rank 0 prints
