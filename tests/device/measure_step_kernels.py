#!/usr/bin/env python3
"""tests/device/measure_step_kernels.py: the one GPU measurement that docs/VALIDATION.md
("The training step") needs to find where moesim's per-layer optimism against Megatron-Core
comes from. It is not part of the build or of `make test`: it needs PyTorch with CUDA, which
only a lent GPU machine has.

Run on the GPU machine, from the repository root (about 3 minutes on an H100):

    python3 tests/device/measure_step_kernels.py --out "$OUT"

Check its code paths on any machine with PyTorch, on the CPU (tiny sizes; the times mean
nothing):

    python3 tests/device/measure_step_kernels.py --device cpu --tiny --out /tmp/kit

What it measures, on the per-GPU work of the two Megatron validation scenarios
(tests/validation/megatron-mixtral-8x7b.ini: TP1 EP8, 4096 tokens per micro-batch, one expert
of 8192 token copies per GPU; megatron-mixtral-8x22b.ini: TP2 EP8 with expert TP 1, 2048
tokens per GPU, one expert of 4096 copies):
 1. every GEMM of a layer: the forward (m x n x k), its data gradient (m x k x n) and weight
    gradient (k x n x m), as moesim's step costs them (docs/MODEL.md), the experts at 90%,
    100% and 110% of the mean token count (the calibration table interpolates in m);
 2. the fused attention core (scaled_dot_product_attention, cuDNN backend where PyTorch has
    it), forward and backward, causal, grouped-query;
 3. the memory-bound kernels of a layer: copy, residual add, RMSNorm, rotary embedding
    (eager, several kernels), SwiGLU, the permutation (index_select) and unpermutation
    (index_add_);
 4. one Mixtral 8x7B layer as one GPU of the EP8 case computes it, forward and backward,
    in eager PyTorch (the all-to-all left out: the permuted copies stand for what arrives),
    with the host's time to issue it and the number of kernels it launches;
 5. fp8 (torch._scaled_mm, e4m3) against bf16 on the forward GEMMs, for the Hopper
    presets' fp8_efficiency_ratio (models/hw.c);
 6. the SM clock, power and temperature every 100 ms (NVML through pynvml, when present).

Each GEMM is timed twice: burst (after 1 s idle: the clock a microbenchmark sees, the
convention of moesim's h100-sxm gemm_efficiency) and sustained (after the GPU has been kept
busy for --heat seconds and without a pause since: the power-capped clock a training step
runs at). Times are medians of CUDA-event timings on random normal data.

Output, in --out: gemm_burst.csv and gemm_sustained.csv in moesim's gemm.calibration format
(m,n,k,dtype,time_us; docs/MODEL.md "Calibration table"), report.json (every number, the
device, the versions, the clock samples per phase), and a table on stdout.
tests/device/compare.sh OUT prints each GEMM measured against `moesim gemm`.
"""
import argparse
import json
import math
import os
import statistics
import sys
import threading
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # pragma: no cover - the GPU machine has it
    sys.exit("measure_step_kernels: needs PyTorch (python3 -c 'import torch')")


# ---- shapes -------------------------------------------------------------------------------

# (name, hidden d, heads, kv heads, head dim, expert ffn F, experts E, top-k, vocab V,
#  tp, tokens per micro-batch T, expert-parallel degree)
SCENARIOS = {
    "mixtral-8x7b": dict(d=4096, heads=32, kv=8, hd=128, ffn=14336, experts=8, topk=2,
                         vocab=32000, tp=1, tokens=4096, ep=8),
    "mixtral-8x22b": dict(d=6144, heads=48, kv=8, hd=128, ffn=16384, experts=8, topk=2,
                          vocab=32000, tp=2, tokens=4096, ep=8),
}
TINY = dict(d=256, heads=4, kv=2, hd=64, ffn=512, experts=8, topk=2, vocab=1000, tp=1,
            tokens=256, ep=8)


def expert_tokens(s):
    """Token copies one GPU's expert receives on average: the EP group's tokens routed (each
    GPU routes T / tp of them) x top-k, over the experts, times the GPU's experts."""
    ts = s["tokens"] // s["tp"]
    return s["ep"] * ts * s["topk"] // s["experts"] * (s["experts"] // s["ep"])


def layer_gemms(name, s):
    """The forward GEMMs (label, m, n, k) of one layer, per GPU, as models/step.c costs them."""
    d, tp, T = s["d"], s["tp"], s["tokens"]
    q, kv = s["heads"] * s["hd"], s["kv"] * s["hd"]
    me = expert_tokens(s)
    out = [
        (f"{name} qkv", T, (q + 2 * kv) // tp, d),
        (f"{name} attn out", T, d, q // tp),
        (f"{name} router", T // tp, s["experts"], d),
        (f"{name} output layer", T, -(-s["vocab"] // tp), d),
    ]
    for frac in (0.9, 1.0, 1.1):
        m = int(round(me * frac))
        out.append((f"{name} expert fc1 m={m}", m, 2 * s["ffn"], d))
        out.append((f"{name} expert fc2 m={m}", m, d, s["ffn"]))
    return out


def with_backward(gemms):
    """Each forward GEMM m x n x k with its data gradient m x k x n and weight gradient
    k x n x m, in moesim's (m, n, k) convention."""
    out = []
    for label, m, n, k in gemms:
        out.append((label + " fwd", "fwd", m, n, k))
        out.append((label + " dgrad", "dgrad", m, k, n))
        out.append((label + " wgrad", "wgrad", k, n, m))
    return out


# ---- timing -------------------------------------------------------------------------------

class Timer:
    def __init__(self, dev):
        self.dev = dev

    def sync(self):
        if self.dev.type == "cuda":
            torch.cuda.synchronize()

    def times(self, fn, reps):
        """Seconds of each of reps back-to-back calls of fn. On a GPU a spin kernel runs
        first while the host queues every call, so that a kernel shorter than its launch is
        timed back to back, not with the host's gaps between launches."""
        if self.dev.type == "cuda":
            ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
                  for _ in range(reps)]
            if hasattr(torch.cuda, "_sleep"):  # about 30 us of host time per call, <= 50 ms
                torch.cuda._sleep(int(min(reps * 30e-6, 0.05) * 2e9))
            for a, b in ev:
                a.record()
                fn()
                b.record()
            torch.cuda.synchronize()
            return [a.elapsed_time(b) * 1e-3 for a, b in ev]
        out = []
        for _ in range(reps):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return out

    def median(self, fn, seconds, min_reps=3, max_reps=2000):
        """Median time of fn, repeated for about `seconds` after one untimed call."""
        fn()
        one = min(self.times(fn, 1)[0], seconds)
        reps = max(min_reps, min(max_reps, int(seconds / max(one, 1e-7))))
        return statistics.median(self.times(fn, reps))


class Clocks:
    """SM clock (MHz), power (W) and temperature (C) every 100 ms through NVML, tagged with
    time.monotonic(); phases are named intervals of the same clock."""

    def __init__(self, dev):
        self.samples, self.phases, self.error = [], [], None
        self._stop = threading.Event()
        self._thread = None
        if dev.type != "cuda":
            self.error = "not a CUDA device"
            return
        try:
            import pynvml
            pynvml.nvmlInit()
            self._nv = pynvml
            self._h = pynvml.nvmlDeviceGetHandleByIndex(dev.index or 0)
        except Exception as e:  # pynvml missing or no NVML: report it, measure anyway
            self.error = f"NVML unavailable: {e}"
            return
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        nv, h = self._nv, self._h
        reads = (lambda: nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM),
                 lambda: nv.nvmlDeviceGetPowerUsage(h) / 1000.0,
                 lambda: nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))
        while not self._stop.is_set():
            row = [time.monotonic()]
            for r in reads:  # one failing read (NaN) does not stop the others
                try:
                    row.append(r())
                except Exception as e:
                    self.error = f"NVML read failed: {e}"
                    row.append(float("nan"))
            self.samples.append(tuple(row))
            self._stop.wait(0.1)

    def phase(self, name):
        clocks = self

        class _P:
            def __enter__(self):
                self.t0 = time.monotonic()

            def __exit__(self, *exc):
                clocks.phases.append((name, self.t0, time.monotonic()))
        return _P()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join()

    def summary(self):
        """Per phase name (its intervals together): the samples' clock, power, heat."""
        out = {}
        for name in dict.fromkeys(p[0] for p in self.phases):
            spans = [(t0, t1) for n, t0, t1 in self.phases if n == name]
            s = [x for x in self.samples if any(t0 <= x[0] <= t1 for t0, t1 in spans)]
            if s:
                out[name] = {"samples": len(s),
                             "sm_mhz_median": statistics.median(x[1] for x in s),
                             "sm_mhz_min": min(x[1] for x in s),
                             "power_w_median": statistics.median(x[2] for x in s),
                             "temp_c_max": max(x[3] for x in s)}
        return out


# ---- the measurements ---------------------------------------------------------------------

def rand(shape, dev, dtype):
    return torch.randn(*shape, device=dev, dtype=dtype)


ROTATE_BYTES = 256e6  # operand sets cycled per call: more than the L2 (50 MB on an H100)


def rotating(make, nbytes, call):
    """A callable running call(*args) on one of several operand sets made by make(), in
    turn, enough of them (at most 64) that together they outgrow the L2 cache: repeated
    calls then read from HBM, as a training step's kernels do."""
    sets = [make() for _ in range(max(1, min(64, math.ceil(ROTATE_BYTES / max(nbytes, 1)))))]
    it = [0]

    def fn():
        i = it[0]
        it[0] = (i + 1) % len(sets)
        return call(*sets[i])
    return fn


def gemm_fn(kind, m, n, k, dev, dtype):
    """A callable running the GEMM of moesim's (m, n, k) with the operand layouts training
    uses: forward Y = X W^T, data gradient dX = dY W, weight gradient dW = dY^T X; operands
    rotate past the L2 (rotating)."""
    nbytes = (m * k + k * n) * 2
    if kind == "fwd":      # X[m,k], W[n,k] -> [m,n]
        return rotating(lambda: (rand((m, k), dev, dtype), rand((n, k), dev, dtype)), nbytes,
                        F.linear)
    if kind == "dgrad":    # dY[m,k'] W[k',n]: moesim's (m, n, k) = (T, k_fwd, n_fwd)
        return rotating(lambda: (rand((m, k), dev, dtype), rand((k, n), dev, dtype)), nbytes,
                        torch.matmul)
    # wgrad: dY^T[n, m'] X[m', ...]: moesim's (m, n, k) = (k_fwd, n_fwd, T); output n x m
    return rotating(lambda: (rand((k, n), dev, dtype), rand((k, m), dev, dtype)), nbytes,
                    lambda dy, x: torch.matmul(dy.t(), x))


def heat(timer, dev, dtype, seconds, size):
    """Keep the GPU busy with large GEMMs for `seconds` (no pause at the end)."""
    a, b = rand((size, size), dev, dtype), rand((size, size), dev, dtype)
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        for _ in range(20):
            torch.matmul(a, b)
        timer.sync()


def measure_gemms(rows, timer, dev, dtype, args, clocks):
    res = {}
    for label, kind, m, n, k in rows:
        fn = gemm_fn(kind, m, n, k, dev, dtype)
        timer.sync()
        time.sleep(args.idle)
        with clocks.phase("gemm burst"):  # the clock ramps up in ms: 25 ms of calls first
            t_end = time.monotonic() + args.ramp
            while time.monotonic() < t_end:
                fn()
                timer.sync()
            res[label] = {"kind": kind, "m": m, "n": n, "k": k,
                          "burst_s": statistics.median(timer.times(fn, 5))}
        del fn
    with clocks.phase("heat"):
        heat(timer, dev, dtype, args.heat, args.heat_size)
    with clocks.phase("gemm sustained"):
        for label, kind, m, n, k in rows:
            fn = gemm_fn(kind, m, n, k, dev, dtype)
            res[label]["sustained_s"] = timer.median(fn, args.shape_seconds)
            del fn
    for r in res.values():
        fl = 2.0 * r["m"] * r["n"] * r["k"]
        r["burst_tflops"] = fl / r["burst_s"] / 1e12
        r["sustained_tflops"] = fl / r["sustained_s"] / 1e12
    return res


def measure_fp8(rows, timer, dev, args, clocks):
    """Sustained fp8 (e4m3, per-tensor scales, bf16 out) against bf16 on the forward GEMMs
    of `rows`, through torch._scaled_mm: the fp8_efficiency_ratio of models/hw.c is the
    ratio of the two efficiencies (fp8 peak twice bf16's). CUDA only; any failure is
    reported, not fatal."""
    if dev.type != "cuda" or not hasattr(torch, "_scaled_mm") or \
            not hasattr(torch, "float8_e4m3fn"):
        return {"error": "needs CUDA and torch._scaled_mm"}
    out = {}
    one = torch.ones((), device=dev)

    def mm(a, b):  # fast accumulation, as Transformer Engine's forward GEMMs run
        return torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16,
                                use_fast_accum=True)
    with clocks.phase("fp8"):
        heat(timer, dev, torch.bfloat16, min(args.heat, 3.0), args.heat_size)
        for label, kind, m, n, k in rows:
            if kind != "fwd" or n % 16 or k % 16:
                continue
            try:
                f8 = rotating(lambda: (
                    rand((m, k), dev, torch.bfloat16).to(torch.float8_e4m3fn),
                    rand((n, k), dev, torch.bfloat16).to(torch.float8_e4m3fn).t()),
                    m * k + k * n, mm)
                t8 = timer.median(f8, args.shape_seconds)
                t16 = timer.median(gemm_fn("fwd", m, n, k, dev, torch.bfloat16),
                                   args.shape_seconds)
            except Exception as e:  # a shape or path this PyTorch refuses: the others go on
                out[label] = {"error": str(e)}
                continue
            fl = 2.0 * m * n * k
            out[label] = {"m": m, "n": n, "k": k, "fp8_s": t8, "bf16_s": t16,
                          "fp8_tflops": fl / t8 / 1e12, "bf16_tflops": fl / t16 / 1e12,
                          "fp8_over_bf16_speed": t16 / t8}
    return out


def _repeat_kv(q, k, v):
    rep = q.shape[1] // k.shape[1]
    return k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)


def _sdpa_matmul(q, k, v):
    """Plain causal attention (no fused kernel): for PyTorch without
    scaled_dot_product_attention, i.e. the CPU checks."""
    k, v = _repeat_kv(q, k, v)
    s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    T = q.shape[2]
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    return torch.matmul(s.masked_fill(mask, float("-inf")).softmax(-1), v)


def _sdpa_candidates(dev):
    """(name, function) pairs, best first: cuDNN's fused attention, then flash attention,
    each with grouped-query heads natively and then with the KV heads repeated."""
    if not hasattr(F, "scaled_dot_product_attention"):
        return [("matmul", _sdpa_matmul)]
    out = []

    def make(backend, gqa):
        def f(q, k, v):
            kw = {"enable_gqa": True} if gqa else {}
            if not gqa:
                k, v = _repeat_kv(q, k, v)
            if backend is None:
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, **kw)
            with sdpa_kernel([backend]):
                return F.scaled_dot_product_attention(q, k, v, is_causal=True, **kw)
        return f
    if dev.type == "cuda":
        try:
            from torch.nn.attention import SDPBackend, sdpa_kernel
            for b in ("CUDNN_ATTENTION", "FLASH_ATTENTION"):
                if hasattr(SDPBackend, b):
                    for gqa in (True, False):
                        out.append((b.lower() + (" gqa" if gqa else " repeated kv"),
                                    make(getattr(SDPBackend, b), gqa)))
        except ImportError:
            pass
    out.append(("default repeated kv", make(None, False)))
    return out


_SDPA = {}


def sdpa(q, k, v):
    """Causal grouped-query attention q [1, H, T, hd], k and v [1, KV, T, hd] through the
    best fused kernel that runs forward and backward here (chosen once per device); returns
    (output, kernel name)."""
    key = q.device.type
    if key not in _SDPA:
        for name, f in _sdpa_candidates(q.device):
            try:
                qq, kk, vv = (t.detach().requires_grad_() for t in (q, k, v))
                o = f(qq, kk, vv)
                o.backward(torch.ones_like(o))
            except (RuntimeError, TypeError):
                continue
            _SDPA[key] = (name, f)
            break
        else:
            raise RuntimeError("no attention kernel ran")
    name, f = _SDPA[key]
    return f(q, k, v), name


def measure_attention(s, timer, dev, dtype, args, clocks):
    T, H, KV, hd = s["tokens"], s["heads"] // s["tp"], s["kv"] // s["tp"], s["hd"]
    q = rand((1, H, T, hd), dev, dtype).requires_grad_()
    k = rand((1, KV, T, hd), dev, dtype).requires_grad_()
    v = rand((1, KV, T, hd), dev, dtype).requires_grad_()
    out, backend = sdpa(q, k, v)
    g = torch.randn_like(out)
    with clocks.phase("attention"):
        heat(timer, dev, dtype, min(args.heat, 3.0), args.heat_size)
        fwd = timer.median(lambda: sdpa(q, k, v), args.shape_seconds)

        def fb():
            o, _ = sdpa(q, k, v)
            torch.autograd.grad(o, (q, k, v), g)
        both = timer.median(fb, args.shape_seconds)
    flops = 2.0 * T * T * H * hd  # QK^T and PV over a mean context of T/2, 2 FLOPs per MAC
    bwd = max(both - fwd, 1e-12)
    return {"backend": backend, "tokens": T, "heads": H, "kv_heads": KV, "head_dim": hd,
            "fwd_s": fwd, "bwd_s": bwd, "fwd_tflops": flops / fwd / 1e12,
            "bwd_tflops": 2.5 * flops / bwd / 1e12}


def rms_norm(x, w):
    if hasattr(F, "rms_norm"):
        return F.rms_norm(x, (x.shape[-1],), w)
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-5).to(x.dtype) * w


def rope(x, cos, sin):
    """Rotary embedding, rotate-half form, eager (as unfused code runs it)."""
    h = x.shape[-1] // 2
    rot = torch.cat((-x[..., h:], x[..., :h]), -1)
    return x * cos + rot * sin


def measure_memory(s, timer, dev, dtype, args, clocks):
    """Memory-bound kernels of a layer, each over operand sets that rotate past the L2;
    bytes are the least each must move (read + written)."""
    T, d, q, kv, hd = s["tokens"], s["d"], s["heads"] * s["hd"], s["kv"] * s["hd"], s["hd"]
    me, ffn, topk = expert_tokens(s), s["ffn"], s["topk"]
    b = 2  # bytes per bf16 element
    w = rand((d,), dev, dtype)
    cos, sin = rand((T, 1, hd), dev, dtype), rand((T, 1, hd), dev, dtype)
    idx = torch.randint(0, T, (T * topk,), device=dev)

    def td():
        return rand((T, d), dev, dtype)
    # name: (make one operand set, the kernel on it, bytes it moves)
    cases = {
        "copy": (lambda: (td(), td()), lambda z, x: z.copy_(x), 2 * T * d * b),
        "residual add": (lambda: (td(), td(), td()),
                         lambda x, y, z: torch.add(x, y, out=z), 3 * T * d * b),
        "rmsnorm": (lambda: (td(),), lambda x: rms_norm(x, w), 2 * T * d * b),
        "rope (q and k)": (lambda: (rand((T, s["heads"] + s["kv"], hd), dev, dtype),),
                           lambda qk: rope(qk, cos, sin), 2 * T * (q + kv) * b),
        "swiglu": (lambda: (rand((me, 2 * ffn), dev, dtype),),
                   lambda up: F.silu(up[:, :ffn]) * up[:, ffn:], 3 * me * ffn * b),
        "permute (index_select)": (lambda: (td(),), lambda x: x.index_select(0, idx),
                                   2 * T * topk * d * b),
        "unpermute (index_add_)": (lambda: (td(), rand((T * topk, d), dev, dtype),
                                            rand((T * topk, 1), dev, dtype)),
                                   lambda z, e, p: z.zero_().index_add_(0, idx, e * p),
                                   3 * T * topk * d * b),
    }
    res = {}
    with clocks.phase("memory kernels"):
        for name, (make, call, nbytes) in cases.items():
            fn = rotating(make, nbytes, call)
            t = timer.median(fn, args.shape_seconds)
            res[name] = {"s": t, "bytes": nbytes, "GBps": nbytes / t / 1e9}
            del fn
    return res


class Layer(torch.nn.Module):
    """One decoder layer of a top-k MoE as one GPU of an EP group computes it with one local
    expert: attention over the micro-batch, the router, the permutation of the k copies of
    each token, the expert over those copies (standing for the tokens the all-to-all would
    bring: the same number on average), the weighted unpermutation, two residual adds."""

    def __init__(self, s, dev, dtype):
        super().__init__()
        d, self.hd = s["d"], s["hd"]
        self.h, self.kv, self.topk, self.ffn = s["heads"], s["kv"], s["topk"], s["ffn"]

        def p(*shape):
            return torch.nn.Parameter(torch.randn(*shape, device=dev, dtype=dtype) * 0.02)
        self.n1, self.n2 = p(d), p(d)
        self.wqkv, self.wo = p((self.h + 2 * self.kv) * self.hd, d), p(d, self.h * self.hd)
        self.wr = p(s["experts"], d)
        self.w13, self.w2 = p(2 * self.ffn, d), p(d, self.ffn)
        T = s["tokens"]
        self.cos = torch.randn(T, 1, self.hd, device=dev, dtype=dtype)
        self.sin = torch.randn(T, 1, self.hd, device=dev, dtype=dtype)

    def forward(self, x):
        T = x.shape[0]
        h = rms_norm(x, self.n1)
        qkv = F.linear(h, self.wqkv).view(T, self.h + 2 * self.kv, self.hd)
        qk = rope(qkv[:, : self.h + self.kv], self.cos, self.sin)
        q = qk[:, : self.h].transpose(0, 1).unsqueeze(0)
        k = qk[:, self.h:].transpose(0, 1).unsqueeze(0)
        v = qkv[:, self.h + self.kv:].transpose(0, 1).unsqueeze(0)
        a, _ = sdpa(q, k, v)
        x = x + F.linear(a.squeeze(0).transpose(0, 1).reshape(T, -1), self.wo)
        h = rms_norm(x, self.n2)
        probs = F.linear(h, self.wr).float().softmax(-1)
        top, sel = probs.topk(self.topk, -1)
        order = sel.flatten().argsort()
        src = order // self.topk
        e = h.index_select(0, src)
        u = F.linear(e, self.w13)
        e = F.linear(F.silu(u[:, : self.ffn]) * u[:, self.ffn:], self.w2)
        w = top.flatten()[order].to(e.dtype).unsqueeze(1)
        out = torch.zeros_like(x).index_add(0, src, e * w)
        return x + out


def measure_layer(s, timer, dev, dtype, args, clocks):
    layer = Layer(s, dev, dtype)
    x = rand((s["tokens"], s["d"]), dev, dtype).requires_grad_()
    g = torch.randn_like(x)
    with clocks.phase("layer"):
        heat(timer, dev, dtype, min(args.heat, 3.0), args.heat_size)
        fwd = timer.median(lambda: layer(x), args.layer_seconds)

        inputs = [x] + list(layer.parameters())

        def fb():  # gradients returned, not accumulated into .grad (no extra adds)
            torch.autograd.grad(layer(x), inputs, g)
        both = timer.median(fb, args.layer_seconds)
    # the host's side: seconds to issue one forward and one forward + backward (the GPU
    # idle and synchronized before each, so the CPU is not held up by a full queue), and
    # the kernels each launches (torch.profiler, where it runs)
    def host(fn):
        out = []
        for _ in range(5):
            timer.sync()
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        timer.sync()
        return statistics.median(out)
    host_fwd, host_fb = host(lambda: layer(x)), host(fb)
    kernels = {}
    try:
        from torch.profiler import ProfilerActivity, profile
        for name, fn in (("fwd", lambda: layer(x)), ("fwd_bwd", fb)):
            acts = [ProfilerActivity.CUDA] if dev.type == "cuda" else [ProfilerActivity.CPU]
            with profile(activities=acts) as prof:
                fn()
                timer.sync()
            kind = "cuda" if dev.type == "cuda" else "cpu"
            kernels[name] = sum(1 for e in prof.events()
                                if str(getattr(e, "device_type", "")).lower().endswith(kind))
    except Exception as e:  # profiler unavailable here: the host times still stand
        kernels["error"] = str(e)
    return {"tokens": s["tokens"], "expert_tokens": s["tokens"] * s["topk"], "fwd_s": fwd,
            "bwd_s": both - fwd, "fwd_bwd_s": both, "host_fwd_s": host_fwd,
            "host_fwd_bwd_s": host_fb, "kernels": kernels}


# ---- output -------------------------------------------------------------------------------

def write_csv(path, gemms, key, dtype_name):
    """The calibration table: one line per (m, n, k); where two GEMMs of other layouts share
    a shape (an 8x7B attention projection's forward, data and weight gradients are all
    4096 x 4096 x 4096), the first measured stands for them (report.json has all)."""
    seen = set()
    with open(path + ".tmp", "w") as f:
        f.write("# measured by tests/device/measure_step_kernels.py (%s times)\n" % key[:-2])
        f.write("m,n,k,dtype,time_us\n")
        for r in gemms.values():
            pt = (r["m"], r["n"], r["k"])
            if pt in seen:  # the calibration table refuses duplicate points
                continue
            seen.add(pt)
            f.write("%d,%d,%d,%s,%.3f\n" % (*pt, dtype_name, r[key] * 1e6))
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="directory for the results")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (checks, not timings)")
    ap.add_argument("--heat", type=float, default=20.0,
                    help="seconds of continuous GEMMs before the sustained pass (default 20)")
    ap.add_argument("--idle", type=float, default=1.0,
                    help="seconds idle before each burst timing (default 1)")
    ap.add_argument("--ramp", type=float, default=0.025,
                    help="seconds of calls after the idle, before the burst timing "
                         "(the clock ramps up; default 0.025)")
    ap.add_argument("--shape-seconds", type=float, default=0.4,
                    help="seconds of repetitions per sustained timing (default 0.4)")
    ap.add_argument("--layer-seconds", type=float, default=2.0,
                    help="seconds of repetitions per layer timing (default 2)")
    ap.add_argument("--heat-size", type=int, default=8192, help="GEMM size that heats")
    args = ap.parse_args()

    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("measure_step_kernels: no CUDA device (use --device cpu --tiny to check)")
    dtype, dtype_name = torch.bfloat16, "bf16"
    scen = {"tiny": TINY} if args.tiny else SCENARIOS
    if args.tiny:
        args.heat, args.idle, args.heat_size = min(args.heat, 0.2), min(args.idle, 0.01), 128
        args.ramp = min(args.ramp, 0.002)
        args.shape_seconds, args.layer_seconds = min(args.shape_seconds, 0.01), 0.05
    if args.tiny:  # a CPU check: rotate through a few small sets, not 256 MB of them
        global ROTATE_BYTES
        ROTATE_BYTES = 1e6
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(1)
    timer, clocks = Timer(dev), Clocks(dev)
    t0 = time.monotonic()

    rows = []
    for name, s in scen.items():
        rows += with_backward(layer_gemms(name, s))
    report = {"device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
              "torch": torch.__version__,
              "cuda": getattr(torch.version, "cuda", None),
              "dtype": str(dtype), "args": vars(args), "date": time.strftime("%Y-%m-%d"),
              "gemms": measure_gemms(rows, timer, dev, dtype, args, clocks),
              "attention": {}, "memory": {}, "layer": {}}
    for name, s in scen.items():
        report["attention"][name] = measure_attention(s, timer, dev, dtype, args, clocks)
        report["memory"][name] = measure_memory(s, timer, dev, dtype, args, clocks)
    report["fp8"] = measure_fp8(rows, timer, dev, args, clocks)
    first = next(iter(scen))
    report["layer"][first] = measure_layer(scen[first], timer, dev, dtype, args, clocks)
    clocks.stop()
    report["clocks"] = clocks.summary()
    report["clocks_error"] = clocks.error
    report["wall_s"] = time.monotonic() - t0

    write_csv(os.path.join(args.out, "gemm_burst.csv"), report["gemms"], "burst_s", dtype_name)
    write_csv(os.path.join(args.out, "gemm_sustained.csv"), report["gemms"], "sustained_s",
              dtype_name)
    with open(os.path.join(args.out, "report.json.tmp"), "w") as f:
        json.dump(report, f, indent=1)
    os.replace(os.path.join(args.out, "report.json.tmp"), os.path.join(args.out, "report.json"))

    print("%-44s %10s %10s %8s %8s" % ("GEMM (m x n x k)", "burst us", "sust. us", "burst TF",
                                         "sust. TF"))
    for label, r in report["gemms"].items():
        print("%-44s %10.1f %10.1f %8.1f %8.1f" % (label, r["burst_s"] * 1e6,
                                                   r["sustained_s"] * 1e6, r["burst_tflops"],
                                                   r["sustained_tflops"]))
    for name, a in report["attention"].items():
        print("attention %s (%s): fwd %.1f us %.0f TFLOP/s, bwd %.1f us %.0f TFLOP/s"
              % (name, a["backend"], a["fwd_s"] * 1e6, a["fwd_tflops"], a["bwd_s"] * 1e6,
                 a["bwd_tflops"]))
    for name, mk in report["memory"].items():
        print("memory kernels %s: " % name + ", ".join(
            "%s %.0f GB/s" % (k, v["GBps"]) for k, v in mk.items()))
    f8 = {k: v for k, v in report["fp8"].items() if k != "error" and "error" not in v}
    if f8:
        print("fp8 / bf16 speed (sustained, forward GEMMs): " + ", ".join(
            "%s %.2f" % (k, v["fp8_over_bf16_speed"]) for k, v in f8.items()))
    if "error" in report["fp8"]:
        print("fp8: " + report["fp8"]["error"])
    for name, l in report["layer"].items():
        print("layer %s: fwd %.3f ms, bwd %.3f ms; host issues fwd in %.3f ms, fwd+bwd in "
              "%.3f ms; kernels %s" % (name, l["fwd_s"] * 1e3, l["bwd_s"] * 1e3,
                                       l["host_fwd_s"] * 1e3, l["host_fwd_bwd_s"] * 1e3,
                                       l["kernels"]))
    for name, c in report["clocks"].items():
        print("clock %-15s SM %4.0f MHz (min %4.0f), %3.0f W, max %2.0f C"
              % (name, c["sm_mhz_median"], c["sm_mhz_min"], c["power_w_median"],
                 c["temp_c_max"]))
    if clocks.error:
        print("clocks: " + clocks.error)
    print("wall %.0f s; results in %s" % (report["wall_s"], args.out))


if __name__ == "__main__":
    main()
