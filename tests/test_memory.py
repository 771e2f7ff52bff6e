"""Peak memory of meta-testing does not grow with the episode length (vsml/memory.py)."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

PROBE = textwrap.dedent("""
    import json, sys, torch
    torch.set_num_threads(1)
    from vsml import VSMLConfig, VSMLNetwork
    from vsml.lstm import SubLSTMConfig
    from vsml.memory import peak_rss_mb
    # LayerNorm on the messages: the configuration of the shipped V_M, whose buffers fragmented the heap.
    net = VSMLNetwork(VSMLConfig(layer_sizes=(784, 10), sub_lstm=SubLSTMConfig(layer_norm=True)))
    params, T = net.init_params(seed=0), int(sys.argv[1])
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(4, T, 784, generator=g), torch.randint(0, 10, (4, T), generator=g)
    with torch.inference_mode():
        net.run_episode(params, x, y)
    print(json.dumps({"peak_mb": peak_rss_mb()}))
""")


def _peak(T: int, keep_malloc: bool) -> float:
    env = {**os.environ, "VSML_KEEP_MALLOC": "1" if keep_malloc else "0", "OMP_NUM_THREADS": "1"}
    env.pop("MALLOC_MMAP_THRESHOLD_", None)
    out = subprocess.run([sys.executable, "-c", PROBE, str(T)], capture_output=True, text=True, timeout=300,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator setting")
def test_peak_memory_is_flat_in_the_episode_length():
    short, long = _peak(40, False), _peak(240, False)
    # Without the setting this grows by about 2 MB per example (~400 MB here).
    assert long - short < 80, (short, long)
