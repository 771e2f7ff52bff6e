"""The shared sub-LSTM and the VSML network (vsml/lstm.py, vsml/network.py)."""
import dataclasses

import pytest
import torch

from tiny_tasks import torch_lstm_cell
from vsml import SubLSTMConfig, VSMLConfig, VSMLNetwork, flatten_params, param_count, unflatten_params
from vsml.dense_tick import DenseTick
from vsml.lstm import dense_tick_reference, init_params


def make_episode(P=3, T=6, D=12, C=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(P, T, D, generator=gen), torch.randint(0, C, (P, T), generator=gen)


def test_param_count_matches_paper():
    assert param_count(SubLSTMConfig()) == 2384  # "about 2,400" (Section 4)
    assert param_count(SubLSTMConfig(state_size=64)) == 80 * 256 + 256 + 2 * (64 * 8 + 8)
    assert param_count(SubLSTMConfig(layer_norm=True)) == 2384 + 32


def test_learned_variable_count():
    assert VSMLConfig(layer_sizes=(784, 10)).num_learned() == 784 * 10 * 32


@pytest.mark.parametrize("members", [None, 3])
def test_flatten_roundtrip(members):
    cfg = SubLSTMConfig(layer_norm=True)
    flat = torch.randn(*(() if members is None else (members,)), param_count(cfg))
    params = unflatten_params(flat, cfg)
    lead = () if members is None else (members,)
    assert params["lstm_w"].shape == (*lead, 32, 64) and params["fwd_ln_scale"].shape == (*lead, 8)
    torch.testing.assert_close(flatten_params(params, cfg), flat)


@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("members", [None, 2])
@pytest.mark.parametrize("clip", [None, 0.5])
def test_fast_tick_equals_reference(layer_norm, members, clip):
    cfg = SubLSTMConfig(layer_norm=layer_norm)
    gen = torch.Generator().manual_seed(0)
    P, A, B, N = 2, 5, 3, cfg.state_size
    flat = torch.randn(*(() if members is None else (members,)), param_count(cfg), generator=gen, dtype=torch.float64)
    params = unflatten_params(flat * 0.5, cfg)
    h, c = torch.randn(P, A, B, N, generator=gen, dtype=torch.float64), torch.randn(P, A, B, N, generator=gen, dtype=torch.float64)
    fwd, bwd = torch.randn(P, A, 8, generator=gen, dtype=torch.float64), torch.randn(P, B, 8, generator=gen, dtype=torch.float64)
    fast = DenseTick(cfg, num_ticks=3, state_clip=clip)(params, h, c, fwd, bwd)
    ref = dense_tick_reference(params, cfg, h, c, fwd, bwd, num_ticks=3, state_clip=clip)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_tick_matches_torch_lstm_cells_one_per_sub_lstm():
    """An independent reference for Eq. 7 (Appendix C): a literal loop over sub-LSTMs (a, b), each a
    torch.nn.LSTMCell (gate order i, f, g, o; ours is i, g, f, o with offsets input -5, forget +5) fed
    [fwd_in[a], bwd_in[b]]; messages projected per sub-LSTM and averaged over a (forward) and b (backward)."""
    cfg = SubLSTMConfig()
    N, F_, B_ = cfg.state_size, cfg.fwd_size, cfg.bwd_size
    gen = torch.Generator().manual_seed(3)
    params = unflatten_params(0.5 * torch.randn(param_count(cfg), generator=gen, dtype=torch.float64), cfg)
    A, B = 2, 3
    h, c = torch.randn(1, A, B, N, generator=gen, dtype=torch.float64), torch.randn(1, A, B, N, generator=gen,
                                                                                   dtype=torch.float64)
    fwd_in, bwd_in = torch.randn(1, A, F_, generator=gen, dtype=torch.float64), torch.randn(1, B, B_, generator=gen,
                                                                                           dtype=torch.float64)
    cell = torch_lstm_cell(params["lstm_w"], params["lstm_b"], F_ + B_, input_offset=cfg.input_bias,
                           forget_offset=cfg.forget_bias, dtype=torch.float64)
    with torch.no_grad():
        want_h, want_c = h.clone(), c.clone()
        for a in range(A):
            for b in range(B):
                hab, cab = h[0, a, b][None], c[0, a, b][None]
                for _ in range(2):
                    hab, cab = cell(torch.cat([fwd_in[0, a], bwd_in[0, b]])[None], (hab, cab))
                want_h[0, a, b], want_c[0, a, b] = hab[0], cab[0]
    want_fwd = (want_h @ params["fwd_w"] + params["fwd_b"]).mean(1)
    want_bwd = (want_h @ params["bwd_w"] + params["bwd_b"]).mean(2)
    for got in (DenseTick(cfg, num_ticks=2)(params, h, c, fwd_in, bwd_in),
                dense_tick_reference(params, cfg, h, c, fwd_in, bwd_in, num_ticks=2)):
        for x, y in zip(got, (want_h, want_c, want_fwd, want_bwd)):
            torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-10)


def test_gate_offsets_make_memory_persist():
    # With zero weights: forget gate sig(5) ~ 0.993, input gate sig(-5) ~ 0.007.
    cfg = SubLSTMConfig()
    params = {k: torch.zeros_like(v) for k, v in init_params(cfg).items()}
    c = torch.ones(1, 2, 2, 16)
    _, c_new, _, _ = DenseTick(cfg, num_ticks=1)(params, torch.zeros_like(c), c, torch.zeros(1, 2, 8), torch.zeros(1, 2, 8))
    torch.testing.assert_close(c_new, torch.full_like(c, torch.sigmoid(torch.tensor(5.0)).item()))


@pytest.mark.parametrize("sizes", [(12, 4), (12, 7, 4), (12, 5, 6, 4)])
def test_episode_shapes_with_batch(sizes):
    net = VSMLNetwork(VSMLConfig(layer_sizes=sizes))
    x, y = make_episode(P=3, T=5, D=12, C=4)
    res = net.run_episode(net.init_params(0), x, y, generator=torch.Generator().manual_seed(0))
    assert res.logits.shape == (3, 5, 4) and res.loss.shape == (3, 5) and res.correct.shape == (3, 5)
    assert [tuple(h.shape) for h in res.state.h] == [(3, a, b, 16) for a, b in zip(sizes[:-1], sizes[1:])]
    assert res.cumulative_accuracy().shape == (3, 5)
    assert torch.isfinite(res.loss).all()


def test_same_params_run_on_other_sizes():
    # One V_M, any layer sizes (Section 4.3).
    params = VSMLNetwork().init_params(0)
    for sizes in [(784, 10), (49, 3), (20, 30, 6)]:
        net = VSMLNetwork(VSMLConfig(layer_sizes=sizes))
        x, y = make_episode(P=1, T=2, D=sizes[0], C=sizes[-1])
        assert net.run_episode(params, x, y).logits.shape == (1, 2, sizes[-1])


def test_per_member_parameters_differ_per_member():
    cfg = VSMLConfig(layer_sizes=(12, 4))
    net = VSMLNetwork(cfg)
    x, y = make_episode(P=2, T=4)
    x[1], y[1] = x[0], y[0]                   # same data for both members
    state = net.init_state(1, torch.Generator().manual_seed(3)).repeat_interleave(2)
    base = flatten_params(net.init_params(0), cfg.sub_lstm)
    same = unflatten_params(torch.stack([base, base]), cfg.sub_lstm)
    out_same = net.run_episode(same, x, y, state=state.clone())
    torch.testing.assert_close(out_same.logits[0], out_same.logits[1])
    # identical copies per member == shared parameters
    out_shared = net.run_episode(unflatten_params(base, cfg.sub_lstm), x, y, state=state.clone())
    torch.testing.assert_close(out_same.logits, out_shared.logits, rtol=1e-5, atol=1e-6)
    other = torch.stack([base, base + 0.3 * torch.randn(base.shape, generator=torch.Generator().manual_seed(1))])
    out_diff = net.run_episode(unflatten_params(other, cfg.sub_lstm), x, y, state=state.clone())
    torch.testing.assert_close(out_diff.logits[0], out_same.logits[0])
    assert (out_diff.logits[1] - out_same.logits[1]).abs().max() > 1e-4


def test_prediction_does_not_see_its_label():
    # Causality (Algorithm 2): the prediction for x_t is made before y_t is fed.
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 7, 4)))
    params = {k: v * 3 for k, v in net.init_params(0).items()}  # larger weights: errors matter
    x, y = make_episode(P=1, T=6)
    y2 = y.clone()
    y2[0, 3] = (y[0, 3] + 1) % 4
    a = net.run_episode(params, x, y, generator=torch.Generator().manual_seed(0))
    b = net.run_episode(params, x, y2, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a.logits[:, :4], b.logits[:, :4])   # up to and including t=3
    assert (a.logits[:, 4:] - b.logits[:, 4:]).abs().max() > 1e-6  # the error reaches later steps


def test_seeded_determinism():
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 4)))
    x, y = make_episode()
    a = net.run_episode(net.init_params(0), x, y, generator=torch.Generator().manual_seed(5))
    b = net.run_episode(net.init_params(0), x, y, generator=torch.Generator().manual_seed(5))
    c = net.run_episode(net.init_params(0), x, y, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(a.logits, b.logits, rtol=0, atol=0)
    assert (a.logits - c.logits).abs().max() > 0


@pytest.mark.parametrize("sizes,batch_average", [((12, 4), False), ((12, 6, 4), True)])
def test_run_episode_in_place_equals_new_states_and_keeps_a_given_state(sizes, batch_average):
    """run_episode updates its own states in place (CPU kernel); the numbers equal a loop that allocates,
    and a state the caller passes in is left as it was."""
    net = VSMLNetwork(VSMLConfig(layer_sizes=sizes, batch_average=batch_average))
    params = net.init_params(0)
    x, y = make_episode(P=4, D=sizes[0], C=sizes[-1])
    start = net.init_state(4, torch.Generator().manual_seed(3))
    kept = start.clone()
    with torch.no_grad():
        state, logits = start, []
        for t in range(x.shape[1]):  # the allocating loop: in_place off
            lg, _, state = net.online_step(params, state, x[:, t], y[:, t])
            logits.append(lg)
        res = net.run_episode(params, x, y, state=start)
        fresh = net.run_episode(params, x, y, generator=torch.Generator().manual_seed(3))
    assert torch.equal(res.logits, torch.stack(logits, 1)) and torch.equal(fresh.logits, res.logits)
    for a, b in zip(res.state.h + res.state.c, state.h + state.c):
        assert torch.equal(a, b)
    for a, b in zip(start.h + start.c + start.bwd_in, kept.h + kept.c + kept.bwd_in):
        assert torch.equal(a, b)


def test_permuting_inputs_permutes_states():
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 4)))
    params = net.init_params(0)
    x, y = make_episode(P=1)
    state = net.init_state(1, torch.Generator().manual_seed(0))
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    permuted = state.clone()
    permuted.h[0], permuted.c[0] = state.h[0][:, perm], state.c[0][:, perm]
    a = net.run_episode(params, x, y, state=state.clone())
    b = net.run_episode(params, x[..., perm], y, state=permuted)
    torch.testing.assert_close(a.logits, b.logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.state.c[0][:, perm], b.state.c[0], rtol=1e-5, atol=1e-5)


def test_feed_label_and_state_clip_options():
    x, y = make_episode(P=1, T=4)
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 4), feed_label=True, state_clip=0.1))
    res = net.run_episode({k: v * 5 for k, v in net.init_params(0).items()}, x, y)
    assert res.state.c[0].abs().max() <= 0.1 + 1e-7
    assert torch.equal(res.state.bwd_in[-1][0, :, 1], torch.nn.functional.one_hot(y[0, -1], 4).float())


def test_gradients_reach_all_meta_variables():
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 5, 4), sub_lstm=SubLSTMConfig(layer_norm=True)))
    params = {k: v.requires_grad_() for k, v in net.init_params(0).items()}
    x, y = make_episode(P=2, T=4)
    net.run_episode(params, x, y).loss.mean().backward()
    for name, p in params.items():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_batch_average_shares_first_half():
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 4), batch_average=True))
    x, y = make_episode(P=3, T=2)
    res = net.run_episode(net.init_params(0), x, y)
    h = res.state.h[0]
    torch.testing.assert_close(h[0, ..., :8], h[2, ..., :8])
    assert (h[0, ..., 8:] - h[2, ..., 8:]).abs().max() > 0


LONG = torch.zeros(2, 3, dtype=torch.long)


@pytest.mark.parametrize("make, match", [
    (lambda net, p: net.run_episode(p, torch.zeros(2, 3, 11), LONG), r"x must be \[P, T, 12\]"),
    (lambda net, p: net.run_episode(p, torch.zeros(2, 3, 12), torch.zeros(2, 4, dtype=torch.long)),
     r"y must be \[P, T\] = \(2, 3\)"),
    (lambda net, p: net.run_episode(p, torch.zeros(2, 3, 12), torch.full((2, 3), 4)), r"labels must be in \[0, 4\)"),
    (lambda net, p: net.run_episode(p, torch.full((2, 3, 12), float("nan")), LONG), "NaN or infinite"),
    (lambda net, p: net.run_episode(p, torch.zeros(2, 3, 12), torch.zeros(2, 3)), "int64 class labels"),
    (lambda net, p: net.run_episode(p, torch.zeros(2, 3, 12), LONG.int()), r"int64 class labels.*y.long\(\)"),
    (lambda net, p: net.run_episode({**p, "lstm_w": p["lstm_w"][:-1]}, torch.zeros(2, 3, 12), LONG),
     r"lstm_w has shape \(31, 64\), expected \(32, 64\)"),
    (lambda net, p: net.run_episode(unflatten_params(torch.zeros(3, 2384), SubLSTMConfig()), torch.zeros(2, 3, 12),
                                    LONG), "for 3 members but the batch has 2"),
    (lambda net, p: unflatten_params(torch.zeros(100), SubLSTMConfig()), "flat parameter vector"),
    (lambda net, p: VSMLConfig.from_dict({"layer_sizes": (3, 2), "num_micro_tick": 2}),
     r"unknown VSMLConfig option\(s\) \['num_micro_tick'\]"),
    (lambda net, p: VSMLConfig(layer_sizes=(5,)), "at least an input and an output size"),
    # issue 10: dtype and empty episodes are one-line errors, not deep tracebacks
    (lambda net, p: net.run_episode(p, torch.zeros(2, 3, 12, dtype=torch.float64), LONG),
     "x has dtype torch.float64 but the parameters have torch.float32"),
    (lambda net, p: net.run_episode(p, torch.zeros(2, 3, 12, dtype=torch.long), LONG), "floating-point tensor"),
    (lambda net, p: net.run_episode(p, torch.zeros(2, 0, 12), torch.zeros(2, 0, dtype=torch.long)),
     "the episode is empty"),
    (lambda net, p: net.run_episode(p, torch.zeros(0, 3, 12), torch.zeros(0, 3, dtype=torch.long)),
     "the episode is empty"),
    (lambda net, p: VSMLConfig.from_dict({"layer_sizes": (3, 2), "output_bound": "a lot"}),
     "output_bound must be a number, got 'a lot'"),
])
def test_bad_input_raises_clear_error(make, match):
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 4)))
    with pytest.raises(ValueError, match=match) as info:
        make(net, net.init_params(0))
    assert "\n" not in str(info.value)  # one line


def test_yaml_strings_are_converted_to_the_fields_types():
    """YAML 1.1 reads 1e2 as a string; the config mechanism converts it (it reached output_bound as a str)."""
    cfg = VSMLConfig.from_dict({"layer_sizes": [3, 2], "output_bound": "1e2", "state_clip": "4",
                                "sub_lstm": {"state_size": "8", "layer_norm": "true"}})
    assert cfg.output_bound == 100.0 and isinstance(cfg.output_bound, float)
    assert cfg.layer_sizes == (3, 2) and cfg.state_clip == 4.0
    assert cfg.sub_lstm == SubLSTMConfig(state_size=8, layer_norm=True)


def test_config_roundtrip():
    cfg = VSMLConfig(layer_sizes=(49, 10), sub_lstm=SubLSTMConfig(layer_norm=True), feed_label=True)
    again = VSMLConfig.from_dict(cfg.to_dict())
    assert again == cfg and dataclasses.is_dataclass(again.sub_lstm)


def test_every_learner_applies_the_same_label_rule():
    """int32 labels: the same one-line error from VSML and from a baseline (vsml.online.check_episode)."""
    from vsml.evaluate import meta_test
    x, y = torch.zeros(2, 3, 12), torch.zeros(2, 3, dtype=torch.int32)
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 4)))
    for run in (lambda: net.run_episode(net.init_params(0), x, y), lambda: meta_test("SGD", x, y, 4)):
        with pytest.raises(ValueError, match=r"y.long\(\)"):
            run()


@pytest.mark.parametrize("ticks", [0, -1, 1.5])
def test_dense_tick_needs_a_positive_number_of_micro_ticks(ticks):
    with pytest.raises(ValueError, match="num_ticks must be an int >= 1"):
        DenseTick(SubLSTMConfig(), ticks)


def test_dense_tick_keeps_its_old_import_path():
    import vsml.lstm
    from vsml import dense_tick
    assert vsml.lstm.DenseTick is dense_tick.DenseTick and vsml.lstm.STATE_DTYPES is dense_tick.STATE_DTYPES
    with pytest.raises(AttributeError, match="no attribute 'DenseTik'"):
        vsml.lstm.DenseTik


def test_the_step_by_step_api_checks_shapes():
    """forward / online_step / feed_error / init_state: one-line errors, not broadcast errors deep inside."""
    net = VSMLNetwork(VSMLConfig(layer_sizes=(16, 10)))
    p, state = net.init_params(0), net.init_state(2)
    for call, match in ((lambda: net.forward(p, state, torch.randn(2, 15)), r"x_t must be \[P, 16\]"),
                        (lambda: net.forward(p, state, torch.randn(3, 16)), r"= \(2, 16\) for this state"),
                        (lambda: net.online_step(p, state, torch.randn(2, 16), torch.tensor([1, 2, 3])),
                         r"y_t must be int64 labels \[P\] = \(2,\)"),
                        (lambda: net.feed_error(state, torch.randn(2, 7), torch.tensor([1, 2])),
                         r"logits \[P, C\] = \(2, 10\)"),
                        (lambda: net.init_state(-1), "batch_size must be an int >= 1")):
        with pytest.raises(ValueError, match=match):
            call()
    logits, loss, _ = net.online_step(p, state, torch.randn(2, 16), torch.tensor([1, 2]))
    assert logits.shape == (2, 10) and loss.shape == (2,)


@pytest.mark.parametrize("feed_label", [False, True])
def test_error_goes_into_slot_0_of_the_last_backward_message(feed_label):
    """Algorithm 2: the last layer's backward message carries e = softmax(y_hat) - onehot(y) in its first
    slot (index 0), the label in slot 1 with feed_label, and zeros elsewhere; earlier layers' are untouched."""
    net = VSMLNetwork(VSMLConfig(layer_sizes=(12, 5, 4), feed_label=feed_label))
    state = net.init_state(3, torch.Generator().manual_seed(0))
    logits, y_t = torch.randn(3, 4), torch.tensor([0, 3, 1])
    new = net.feed_error(state, logits, y_t)
    msg = new.bwd_in[-1]
    assert msg.shape == (3, 4, net.config.sub_lstm.bwd_size)
    onehot = torch.nn.functional.one_hot(y_t, 4).float()
    torch.testing.assert_close(msg[..., 0], torch.softmax(logits, -1) - onehot)
    used = 2 if feed_label else 1
    if feed_label:
        assert torch.equal(msg[..., 1], onehot)
    assert not msg[..., used:].any()
    assert new.bwd_in[0] is state.bwd_in[0]
