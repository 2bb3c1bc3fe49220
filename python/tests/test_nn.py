"""somata.nn: training, checkpoints, gradients against finite differences, optimizers."""

import numpy as np
import pytest

import somata
from somata import nn


@pytest.fixture(scope="module")
def blobs():
    """Two Gaussian clusters in 4-D, linearly separable with a wide margin (seeded)."""
    rng = np.random.default_rng(7)
    n = 400
    y = rng.integers(0, 2, size=n)
    centers = np.array([[1.5, -1.0, 0.5, 0.0], [-1.5, 1.0, -0.5, 0.5]])
    x = centers[y] + 0.5 * rng.normal(size=(n, 4))
    return x.astype(np.float32), y


def _snn(seed=1):
    return nn.Sequential(
        [nn.Linear(4, 32, seed=seed), somata.LIF(32, tau="5 ms", V_th=1.0), nn.Readout(32, 2, tau="5 ms", seed=seed + 1)],
        dt=1.0,
    )


@pytest.fixture(scope="module")
def trained(blobs):
    x, y = blobs
    net = _snn()
    hist = net.fit(x[:300], y[:300], steps=10, epochs=8, lr=1e-2, batch_size=32)
    return net, hist


def test_fit_separable_problem(blobs, trained):
    x, y = blobs
    net, hist = trained
    assert net.n_in == 4 and net.n_out == 2 and net.dt == 1.0
    assert [h["epoch"] for h in hist] == list(range(8))
    assert hist[-1]["loss"] < hist[0]["loss"]
    assert hist[-1]["accuracy"] > 0.9
    loss, acc = net.evaluate(x[300:], y[300:], steps=10)
    assert acc > 0.9 and np.isfinite(loss)
    pred = net.predict(x[300:], steps=10)
    assert pred.dtype == np.int64 and pred.shape == (100,)
    assert np.mean(pred == y[300:]) == pytest.approx(acc)
    # predict is the argmax of the time-averaged output
    out = net.forward(x[300:], steps=10)
    np.testing.assert_array_equal(pred, out.mean(axis=0).argmax(axis=1))


def test_fit_validation_and_sequence_input(blobs):
    x, y = blobs
    net = _snn(seed=3)
    seq = np.repeat(x[:, None, :], 6, axis=1)  # [samples, steps, n]: the same constant input
    hist = net.fit(seq[:200], y[:200], epochs=2, lr=1e-2, validation=(seq[200:], y[200:]))
    assert {"val_loss", "val_accuracy"} <= set(hist[-1])
    a = net.evaluate(seq[200:], y[200:])
    b = net.evaluate(x[200:], y[200:], steps=6)
    assert a[1] == b[1] and a[0] == pytest.approx(b[0], rel=1e-6)
    assert hist[-1]["val_accuracy"] == a[1]


def test_save_load_round_trip(tmp_path, blobs, trained):
    x, y = blobs
    net, _ = trained
    path = tmp_path / "ckpt.safetensors"
    net.save(path, meta={"note": "test", "epoch": 8})
    other = _snn(seed=11)  # other initial weights
    assert not np.array_equal(other.parameters()["0.W"], net.parameters()["0.W"])
    before = other.evaluate(x[300:], y[300:], steps=10)
    meta = other.load(path)
    assert meta["note"] == "test" and meta["epoch"] == "8"
    p0, p1 = net.parameters(), other.parameters()
    assert p0.keys() == p1.keys() == {"0.W", "0.b", "2.W"}
    for k in p0:
        np.testing.assert_array_equal(p0[k], p1[k])
    after = other.evaluate(x[300:], y[300:], steps=10)
    assert after == net.evaluate(x[300:], y[300:], steps=10)
    assert after != before
    np.testing.assert_array_equal(other.forward(x[:20], steps=10), net.forward(x[:20], steps=10))


def test_checkpoint_readable_with_safetensors(tmp_path, trained):
    st = pytest.importorskip("safetensors.numpy")
    net, _ = trained
    path = tmp_path / "c.safetensors"
    net.save(path)
    tensors = st.load_file(str(path))
    params = net.parameters()
    assert set(tensors) == set(params)
    for k, v in params.items():
        assert tensors[k].dtype == np.float32
        np.testing.assert_array_equal(tensors[k].ravel(), v)
    assert params["0.W"].size == 4 * 32 and params["2.W"].size == 32 * 2


def test_load_wrong_architecture_fails(tmp_path, trained):
    net, _ = trained
    path = tmp_path / "c.safetensors"
    net.save(path)
    other = nn.Sequential([nn.Linear(4, 16), somata.LIF(16), nn.Readout(16, 2)], dt=1.0)
    with pytest.raises((ValueError, OSError)):
        other.load(path)
    with pytest.raises(OSError):
        other.load(tmp_path / "missing.safetensors")


def test_fit_checkpoint_each_epoch(tmp_path, blobs):
    x, y = blobs
    net = _snn(seed=5)
    path = tmp_path / "every.safetensors"
    net.fit(x[:64], y[:64], steps=5, epochs=2, checkpoint=path)
    other = _snn(seed=9)
    assert other.load(path)["epoch"] == "2"
    for k, v in net.parameters().items():
        np.testing.assert_array_equal(other.parameters()[k], v)


# ----------------------------------------------------------------------------------------------
# a smooth network: Linear → LI (no spikes), checked against numpy and finite differences


def _smooth(seed=0):
    rng = np.random.default_rng(seed)
    W1 = rng.normal(scale=0.6, size=(4, 5))
    b1 = rng.normal(scale=0.2, size=5)
    W2 = rng.normal(scale=0.6, size=(5, 3))
    b2 = rng.normal(scale=0.2, size=3)
    net = nn.Sequential([nn.Linear(4, 5, weight=W1, b=b1), nn.LI(5, 3, tau=3.0, weight=W2, b=b2)], dt=0.5)
    return net, (W1, b1, W2, b2)


def _smooth_reference(x, W1, b1, W2, b2, steps, dt=0.5, tau=3.0):
    """LI: o ← o·a + (1 − a)·(h W₂ + b₂), a = e^{−dt/τ}, o₀ = 0; h = x W₁ + b₁ (constant x)."""
    a = np.exp(-dt / tau)
    h = x @ W1 + b1
    drive = h @ W2 + b2
    o = np.zeros_like(drive)
    out = []
    for _ in range(steps):
        o = a * o + (1 - a) * drive
        out.append(o)
    return np.array(out)


def _ce(y, labels):
    """Softmax cross-entropy of the time-mean output, mean over the batch."""
    logits = y.astype(np.float64).mean(axis=0)
    m = logits.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=1, keepdims=True))).ravel()
    return float(np.mean(lse - logits[np.arange(len(labels)), labels]))


def test_smooth_forward_and_loss_match_numpy():
    net, (W1, b1, W2, b2) = _smooth()
    x = np.random.default_rng(1).normal(size=(6, 4)).astype(np.float32)
    labels = np.array([0, 1, 2, 0, 1, 2])
    y = net.forward(x, steps=8)
    assert y.shape == (8, 6, 3)
    np.testing.assert_allclose(y, _smooth_reference(x.astype(np.float64), W1, b1, W2, b2, 8), atol=1e-5)
    v, g = net.loss(y, labels)
    assert v == pytest.approx(_ce(y, labels), rel=1e-5)
    # ∂CE/∂y[t] = (softmax(mean y) − onehot)/(T·B)
    logits = y.astype(np.float64).mean(axis=0)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(6), labels] -= 1
    np.testing.assert_allclose(g, np.broadcast_to(p / (8 * 6), g.shape), atol=1e-6)


def test_backward_matches_finite_differences():
    net, _ = _smooth()
    x = np.random.default_rng(2).normal(size=(6, 4)).astype(np.float32)
    labels = np.array([2, 1, 0, 0, 1, 2])
    T = 8

    def L():
        return _ce(net.forward(x, steps=T), labels)

    y = net.forward(x, steps=T)
    _, g = net.loss(y, labels)
    net.zero_grad()
    gx = net.backward(g)
    # a constant input [batch, n] has one gradient per value: the sum over the steps
    assert gx.shape == (6, 4)
    grads = {k: v.astype(np.float64).copy() for k, v in net.gradients().items()}
    assert set(grads) == {"0.W", "0.b", "1.W", "1.b"}
    base = {k: v.copy() for k, v in net.parameters().items()}
    rng = np.random.default_rng(3)
    eps = 1e-2
    for key in ("0.W", "1.W", "0.b", "1.b"):
        for j in rng.choice(base[key].size, size=min(4, base[key].size), replace=False):
            vals = []
            for sgn in (1, -1):
                p = base[key].astype(np.float64).copy()
                p[j] += sgn * eps
                net.set_parameters({key: p})
                vals.append(L())
            net.set_parameters({key: base[key]})
            fd = (vals[0] - vals[1]) / (2 * eps)
            assert grads[key][j] == pytest.approx(fd, rel=2e-3, abs=2e-5), (key, j)
    # the input gradient: the constant input given as a sequence [batch, steps, n]; ∂L/∂x of the
    # constant is the sum over steps of ∂L/∂x[t]
    xs = np.ascontiguousarray(np.repeat(x[:, None, :], T, axis=1))
    y = net.forward(xs)
    _, g = net.loss(y, labels)
    net.zero_grad()
    gxs = net.backward(g)
    assert gxs.shape == (T, 6, 4)
    for b, i in ((0, 1), (3, 2)):
        vals = []
        for sgn in (1, -1):
            xp = x.astype(np.float64).copy()
            xp[b, i] += sgn * eps
            vals.append(_ce(net.forward(xp.astype(np.float32), steps=T), labels))
        fd = (vals[0] - vals[1]) / (2 * eps)
        assert gxs[:, b, i].sum() == pytest.approx(fd, rel=2e-3, abs=2e-5)
        assert gx[b, i] == pytest.approx(fd, rel=2e-3, abs=2e-5)
        # ∂L/∂y is the same at every step (the loss reads the time mean), so through the leaky
        # integrator ∂L/∂x[t] ∝ Σ_{s≥t} (1 − a)·a^{s−t} = 1 − a^{T−t}
        a = np.exp(-0.5 / 3.0)
        ratio = gxs[:, b, i] / gxs[-1, b, i]
        np.testing.assert_allclose(ratio, (1 - a ** (T - np.arange(T))) / (1 - a), rtol=1e-4)


def test_backward_constant_input_equals_sequence_input():
    net, _ = _smooth()
    x = np.random.default_rng(2).normal(size=(6, 4)).astype(np.float32)
    labels = np.array([2, 1, 0, 0, 1, 2])
    T = 8
    y = net.forward(np.ascontiguousarray(np.repeat(x[:, None, :], T, axis=1)))
    _, g = net.loss(y, labels)
    net.zero_grad()
    want = net.backward(g)
    y2 = net.forward(x, steps=T)
    np.testing.assert_array_equal(y2, y)  # the same forward computation
    net.zero_grad()
    got = net.backward(g)
    # the constant's gradient is the sum over the steps of the sequence's
    assert got.shape == (6, 4) and want.shape == (T, 6, 4)
    np.testing.assert_allclose(got, want.sum(axis=0), rtol=1e-5, atol=1e-7)


def test_gradients_accumulate_until_zero_grad():
    net, _ = _smooth()
    x = np.ones((2, 4), np.float32)
    y = net.forward(x, steps=3)
    _, g = net.loss(y, [0, 1])
    net.zero_grad()
    net.backward(g)
    once = net.gradients()["1.W"].copy()
    net.forward(x, steps=3)
    net.backward(g)
    np.testing.assert_allclose(net.gradients()["1.W"], 2 * once, rtol=1e-6)
    net.zero_grad()
    assert not np.any(net.gradients()["1.W"])


def test_sgd_step_is_minus_lr_grad():
    net, _ = _smooth()
    x = np.random.default_rng(4).normal(size=(5, 4)).astype(np.float32)
    y = net.forward(x, steps=4)
    _, g = net.loss(y, [0, 1, 2, 1, 0])
    net.zero_grad()
    net.backward(g)
    before = {k: v.copy() for k, v in net.parameters().items()}
    grads = {k: v.copy() for k, v in net.gradients().items()}
    opt = nn.SGD(lr=0.25, momentum=0.0)
    assert opt.lr == 0.25
    net.step(opt)
    after = net.parameters()
    for k in before:
        assert np.any(grads[k] != 0)
        want = before[k] - np.float32(0.25) * grads[k]
        np.testing.assert_allclose(after[k], want, rtol=1e-6, atol=1e-8, err_msg=k)
    opt.lr = 0.0
    assert opt.lr == 0.0
    net.step(opt)
    for k in before:
        np.testing.assert_array_equal(net.parameters()[k], after[k])


def test_adam_first_step_is_lr_sign():
    """Adam's first step (bias-corrected) is −lr·g/(|g| + ε) ≈ −lr·sign(g)."""
    net, _ = _smooth()
    x = np.random.default_rng(5).normal(size=(5, 4)).astype(np.float32)
    y = net.forward(x, steps=4)
    _, g = net.loss(y, [0, 1, 2, 1, 0])
    net.zero_grad()
    net.backward(g)
    before = net.parameters()
    grads = net.gradients()
    net.step(nn.Adam(lr=1e-3))
    for k, p in net.parameters().items():
        gk = grads[k].astype(np.float64)
        want = before[k] - 1e-3 * gk / (np.abs(gk) + 1e-8)
        np.testing.assert_allclose(p, want, atol=2e-6, err_msg=k)


def test_trained_neuron_parameters():
    net = nn.Sequential([nn.Linear(3, 4, seed=2), somata.LIF(4, tau="6 ms"), nn.Readout(4, 2)], dt=1.0, train={1: ["tau"]})
    p = net.parameters()
    assert "1.tau" in p
    np.testing.assert_allclose(p["1.tau"], 6.0)
    x = np.random.default_rng(0).uniform(0, 3, size=(8, 3)).astype(np.float32)
    net.fit(x, np.arange(8) % 2, steps=10, epochs=2, lr=0.05)
    assert not np.allclose(net.parameters()["1.tau"], 6.0)


def test_linear_default_init_and_widths():
    """The default init is brainstate's KaimingNormal (a normal truncated at ±2σ and rescaled so
    that the standard deviation is √(2/n_in); crates/somata/src/nn/layers.rs), bias 0,
    reproducible from the seed. (python/somata/nn.py's docstring says "uniform ±1/√n_in".)"""
    n_in = 64
    a = nn.Sequential([nn.Linear(n_in, 400, seed=3)], dt=1.0).parameters()
    b = nn.Sequential([nn.Linear(n_in, 400, seed=3)], dt=1.0).parameters()
    c = nn.Sequential([nn.Linear(n_in, 400, seed=4)], dt=1.0).parameters()
    np.testing.assert_array_equal(a["0.W"], b["0.W"])
    assert not np.array_equal(a["0.W"], c["0.W"])
    W = a["0.W"].astype(np.float64)
    sd = np.sqrt(2.0 / n_in)
    assert W.std() == pytest.approx(sd, rel=0.03)
    assert abs(W.mean()) < 0.05 * sd
    assert np.abs(W).max() <= 2 * sd / 0.87962566 * (1 + 1e-6)
    assert np.abs(W).max() > 1.9 * sd  # truncated at 2 raw σ, not a uniform of half-width √3·sd
    assert not np.any(a["0.b"])
    with pytest.raises(ValueError):
        nn.Sequential([nn.Linear(4, 8), nn.Linear(9, 2)], dt=1.0)
    with pytest.raises(TypeError):
        nn.Sequential([object()], dt=1.0)


def test_wrong_input_width_and_shapes():
    net = _snn()
    with pytest.raises(ValueError, match="4"):
        net.forward(np.zeros((3, 5), np.float32), steps=4)
    with pytest.raises(ValueError, match="4"):
        net.forward(np.zeros((3, 6, 5), np.float32))
    with pytest.raises(ValueError):
        net.forward(np.zeros((3, 4), np.float32))  # constant input without steps
    with pytest.raises(ValueError):
        net.forward(np.zeros(4, np.float32), steps=2)
    with pytest.raises(ValueError):
        net.fit(np.zeros((10, 4), np.float32), np.zeros(9, int), steps=3)
    with pytest.raises(ValueError, match="4"):
        net.fit(np.zeros((10, 3), np.float32), np.zeros(10, int), steps=3)
    with pytest.raises(ValueError):
        net.loss(np.zeros((3, 2, 2), np.float32), [0, 1], loss="hinge")


@pytest.mark.parametrize("reduce", ["mean", "sum", "max", "last"])
def test_losses_match_numpy(reduce):
    rng = np.random.default_rng(0)
    net = nn.Sequential([nn.Linear(4, 3)], dt=1.0)
    y = rng.normal(size=(5, 4, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, 1])
    r = {"mean": lambda a: a.mean(0), "sum": lambda a: a.sum(0), "max": lambda a: a.max(0), "last": lambda a: a[-1]}[reduce](
        y.astype(np.float64))
    onehot = np.eye(3)[labels]
    v, g = net.loss(y, labels, loss="mse", reduce=reduce, target=2.0)
    assert v == pytest.approx(np.mean((r - 2.0 * onehot) ** 2), rel=1e-5)
    assert g.shape == y.shape
    m = r.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(r - m).sum(axis=1, keepdims=True))).ravel()
    v, g = net.loss(y, labels, reduce=reduce)
    assert v == pytest.approx(np.mean(lse - r[np.arange(4), labels]), rel=1e-5)
    if reduce == "last":
        assert not np.any(g[:-1])  # only the last step reaches the loss
    with pytest.raises(ValueError):
        net.loss(y, labels, reduce="median")


def test_fit_progress_callback(blobs):
    x, y = blobs
    net = _snn(seed=2)
    seen = []
    net.fit(x[:96], y[:96], steps=4, epochs=2, batch_size=32, progress=lambda e, k, n, loss: seen.append((e, k, n)))
    assert seen and {e for e, _, _ in seen} == {0, 1}
    assert all(k <= n for _, k, n in seen)


def test_recurrent_layer_follows_its_equation():
    """Recurrent(LIF): I_t = x_t + s_{t−1}·W_rec, checked against a numpy LIF (exponential Euler,
    soft reset by V_th − V_reset) with the same weights; W_rec = 0 equals the plain layer."""
    rng = np.random.default_rng(5)
    n, T, B = 6, 60, 3
    W = (rng.normal(size=(n, n)) * 0.8).astype(np.float32)
    x = (rng.random((B, T, n)) * 3.0).astype(np.float32)
    tau, dt = 5.0, 1.0
    rec = somata.nn.Sequential([somata.nn.Recurrent(somata.LIF(n, tau=tau, V_th=1.0), w_rec=W)], dt=dt)
    y = rec.forward(x)
    a = np.exp(-dt / tau)
    for b in range(B):
        v, s = np.zeros(n), np.zeros(n)
        for t in range(T):
            I = x[b, t] + s @ W
            v = v - 1.0 * s  # soft reset: V − (V_th − V_reset)·spike of the previous step
            v = v * a + (1 - a) * I
            s = (v >= 1.0).astype(np.float64)
            np.testing.assert_array_equal(y[t, b], s)
    assert y.sum() > 10
    plain = somata.nn.Sequential([somata.LIF(n, tau=tau, V_th=1.0)], dt=dt).forward(x)
    zero = somata.nn.Sequential([somata.nn.Recurrent(somata.LIF(n, tau=tau, V_th=1.0), w_rec=np.zeros((n, n)))], dt=dt).forward(x)
    np.testing.assert_array_equal(zero, plain)
    assert "0.W_rec" in rec.parameters()
