"""``python -m vsml.bench_meta``: meta-training speed per config, with overrides (vsml/bench_meta.py)."""
import json

import pytest

from vsml import bench_meta, meta

pytestmark = pytest.mark.usefixtures("one_thread")


def test_bench_meta_applies_overrides_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench_meta.json"
    assert bench_meta.main(["--configs", "cpu_es", "--steps", "1", "--device", "cpu", "--set", "num_pairs=2",
                            "--set", "episode_length=4", "--set", "model_options.state_dtype=bfloat16",
                            "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["config"] == "cpu_es" and row["method"] == "es" and row["device"] == "cpu"
    assert row["overrides"] == ["num_pairs=2", "episode_length=4", "model_options.state_dtype=bfloat16"]
    assert row["measured"] == {"num_pairs": 2, "meta_batch_size": meta.load_config("cpu_es").meta_batch_size,
                               "episode_length": 4}
    assert row["micro_ticks_per_s"] == pytest.approx(4 * 4 * 49 * 10 * 2 / row["sec_per_step"])
    assert "model_options.state_dtype=bfloat16" in capsys.readouterr().out


@pytest.mark.parametrize("args, match", [
    (["--configs", "cpu_es", "--steps", "1", "--device", "cpu", "--set", "model_options.state_dtyp=bfloat16"],
     "state_dtyp"),
    (["--configs", "nosuch"], "nosuch"),
    (["--configs", "cpu_es", "--steps", "0"], "--steps must be >= 1"),
])
def test_bench_meta_bad_input_is_one_line(args, match, capsys):
    assert bench_meta.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and "Traceback" not in err


@pytest.mark.parametrize("args, match", [(["--inputs", "0"], "--inputs must be >= 1"),
                                         (["--device", "tpu"], "unknown device")])
def test_bench_bad_input_is_one_line(args, match, capsys):
    from vsml import bench
    assert bench.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err


def test_bench_timing_repeats_fast_calls_until_a_timing_is_long_enough():
    """A 1 ms call is timed over back-to-back calls (timer noise); a slow one once per timing."""
    import time

    from vsml import bench
    calls = {"fast": 0, "slow": 0}

    def fast():
        calls["fast"] += 1

    def slow():
        calls["slow"] += 1
        time.sleep(0.03)

    out = bench._time_in_turn({"fast": fast, "slow": slow}, repeats=2, device="cpu", min_measure_s=0.02)
    (best_f, med_f, n_fast), (best_s, med_s, n_slow) = out["fast"], out["slow"]
    assert n_slow == 1 and calls["slow"] == 2 + 2  # two warm-up calls, then one per timing
    assert n_fast > 100 and calls["fast"] == 2 + 2 * n_fast
    assert best_f <= med_f < 0.02 / 100 and 0.03 <= best_s <= med_s  # seconds per call, not per timing
