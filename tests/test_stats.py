"""Differences over seeds (the interval and the tie rule) and scaling fits (a known power law
recovered from noisy points; the report's scaling section)."""

import math

import numpy as np
import pytest

from hourglass.report.markdown import render_markdown
from hourglass.report.scaling import Law, crossing, fit_law, scaling_fits
from hourglass.report.stats import difference
from hourglass.report.tables import agreement, pairs
from hourglass.search.frontier import summarize

T_975_DF2 = 4.302652729911275  # Student's t, 97.5th percentile, 2 degrees of freedom


def test_paired_by_seed_the_interval_is_a_t_interval_on_the_differences():
    a = {0: 0.80, 1: 0.84, 2: 0.78}
    b = {0: 0.75, 1: 0.80, 2: 0.72}
    d = difference(a, b)
    diffs = [0.05, 0.04, 0.06]
    half = T_975_DF2 * np.std(diffs, ddof=1) / math.sqrt(3)
    assert d.paired and d.n == 3
    assert d.mean == pytest.approx(0.05)
    assert (d.low, d.high) == pytest.approx((0.05 - half, 0.05 + half))
    assert not d.tie and "paired, 3 seeds" in d.words()


def test_pairing_removes_the_spread_the_seeds_share():
    """The same scores on different seeds: Welch's interval holds 0, the paired one not."""
    a = {0: 0.80, 1: 0.90, 2: 0.70}
    b = {0: 0.79, 1: 0.885, 2: 0.69}
    assert not difference(a, b).tie
    unpaired = difference(a, {s + 10: v for s, v in b.items()})
    assert not unpaired.paired and unpaired.tie and unpaired.words().endswith("a tie")


def test_welch_interval_by_hand():
    a, b = {0: 1.0, 1: 2.0, 2: 3.0}, {5: 0.0, 6: 1.0, 7: 1.0, 8: 2.0}
    d = difference(a, b)
    va, vb = 1.0 / 3, (2 / 3) / 4
    dof = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 3)
    from scipy.stats import t

    half = t.ppf(0.975, dof) * math.sqrt(va + vb)
    assert (d.mean, d.low, d.high) == pytest.approx((1.0, 1.0 - half, 1.0 + half))


def test_one_seed_has_no_interval_and_is_no_measured_difference():
    d = difference({0: 0.9}, {0: 0.5})
    assert d.low is None and d.tie and "one seed" in d.words()
    with pytest.raises(ValueError):
        difference({}, {0: 1.0})


def test_a_known_power_law_is_recovered_from_noisy_points():
    """loss = 1.5 + 40 N^-0.35 at six budgets over 2.5 decades, 3 seeds of noise each: the
    exponent within 5%, and the bootstrap interval holds it."""
    rng = np.random.default_rng(7)
    n = np.array([1e4, 3e4, 1e5, 3e5, 1e6, 3e6])
    law = Law(1.5, 40.0, 0.35)
    for _ in range(5):
        seeds = law(n)[:, None] + rng.normal(0, 0.004, (len(n), 3))
        fitted = fit_law(n, seeds.mean(1))
        assert fitted.alpha == pytest.approx(0.35, rel=0.05)
        assert fitted.e == pytest.approx(1.5, abs=0.05)


def test_crossing_of_two_laws():
    first, second = Law(1.0, 10.0, 0.5), Law(1.2, 2.0, 0.3)
    at = crossing(first, second, 10, 1e6)
    assert at is not None and first(at) == pytest.approx(second(at), abs=1e-4)
    assert crossing(first, Law(2.0, 10.0, 0.5), 10, 1e6) is None


def synthetic_summary(budgets=(2_000, 8_000, 32_000, 128_000), seeds=(0, 1, 2)) -> dict:
    """A classification search whose error rates follow known laws: the hourglass 0.05 + 3
    N^-0.4, the conventional 0.08 + 0.59 N^-0.3 (they cross near 16,000 parameters)."""
    rng = np.random.default_rng(0)
    laws = {"hourglass": Law(0.05, 3.0, 0.4), "conventional": Law(0.08, 0.59, 0.3)}
    rows = []
    for shape, law in laws.items():
        for i, p in enumerate(budgets):
            for s in seeds:
                error = float(law(p)) + rng.normal(0, 0.002)
                rows.append({"status": "complete", "epochs": 5, "shape": shape,
                             "skip_dim": 10 + i, "inner_dim": 4, "depth": 1, "lr": 1e-3,
                             "seed": s, "params": p, "flops_per_sample": 2 * p,
                             "test_accuracy": 1 - error, "baseline": 0.1})
    summary = summarize(rows, "classify", 5, max(budgets))
    summary.update({"space": {"name": "laws", "task": "classify", "dataset": "digits",
                              "epochs": 5, "seeds": list(seeds)},
                    "finished": len(rows), "failed": 0, "compute": 1, "grid_compute": 1})
    return summary


def test_the_report_fits_each_shape_and_finds_the_crossing():
    summary = synthetic_summary()
    fitted = scaling_fits(summary)
    params = fitted["axes"]["params"]
    alphas = {f.shape: f.law.alpha for f in params["fits"]}
    assert alphas["hourglass"] == pytest.approx(0.4, rel=0.15)
    assert alphas["conventional"] == pytest.approx(0.3, rel=0.15)
    truth = crossing(Law(0.05, 3.0, 0.4), Law(0.08, 0.59, 0.3), 2_000, 256_000)
    assert 14_000 < truth < 18_000
    assert params["crossing"].at == pytest.approx(truth, rel=0.25)
    low, high = params["crossing"].interval
    assert low < params["crossing"].at < high
    summary["scaling_fit"] = fitted
    text = render_markdown(summary)
    assert "![scaling fits](scaling.png)" in text
    assert "## Scaling fit against non-embedding parameters: error rate = E + A N^-alpha" in text
    assert "## Scaling fit against forward FLOPs per sample" in text
    assert "The fitted curves cross at N = " in text
    assert "## Hourglass against conventional at each budget of non-embedding parameters" in text
    assert "paired, 3 seeds" in text


def test_under_three_budgets_there_is_no_fit():
    assert scaling_fits(synthetic_summary(budgets=(2_000, 8_000))) is None


def test_the_verdict_is_read_on_parameters_and_on_training_flops():
    # the hourglass is 0.01 better at equal parameters, at 4x the conventional's FLOPs per
    # parameter: at equal FLOPs it loses at two budgets of three
    rng = np.random.default_rng(1)
    rows = []
    for shape, flops_per_param, gain in (("hourglass", 8, 0.01), ("conventional", 2, 0.0)):
        for i, (p, error) in enumerate(((1_000, 0.30), (4_000, 0.20), (16_000, 0.10))):
            for s in (0, 1, 2):
                rows.append({"status": "complete", "epochs": 5, "shape": shape,
                             "skip_dim": 10 + i, "inner_dim": 4, "depth": 1, "lr": 1e-3,
                             "seed": s, "params": p, "flops_per_sample": flops_per_param * p,
                             "test_accuracy": 1 - error + gain + rng.normal(0, 0.001),
                             "baseline": 0.1})
    summary = summarize(rows, "classify", 5, 16_000)
    on_params, on_flops = pairs(summary, "params"), pairs(summary, "flops")
    assert [p.ahead for p in on_params] == ["hourglass"] * 3
    assert [(p.budget, p.ahead) for p in on_flops] == [
        (8_000, "conventional"), (32_000, "conventional"), (128_000, "hourglass")]
    assert agreement({"params": on_params, "flops": on_flops}) == (
        "Ahead, by budget: on parameters hourglass at 3; on training FLOPs conventional at 2, "
        "hourglass at 1: the two axes disagree.")
    summary.update({"space": {"name": "flops", "task": "classify", "dataset": "digits",
                              "epochs": 5, "seeds": [0, 1, 2]},
                    "finished": len(rows), "failed": 0, "compute": 1, "grid_compute": 1})
    text = render_markdown(summary)
    assert "## Hourglass against conventional at each budget of training FLOPs" in text
    assert "| 4.000 |" in text  # the hourglass's FLOPs over the conventional's, per budget
    assert "the two axes disagree" in text
