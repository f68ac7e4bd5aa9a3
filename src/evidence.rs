//! How unlikely a change is by chance, for one account's own volume and spread: the
//! tail probabilities the signals quote, and how a probability becomes evidence.
//!
//! Well-known statistics only, each written out here so that the figures in a reason
//! can be checked by hand:
//! - counts against the account's own rate: the negative-binomial (Poisson–gamma)
//!   predictive of a recent count given the baseline count, both divided by the
//!   account's own over-dispersion (real months cluster; quasi-Poisson);
//! - shares, `k` of `n`: the beta-binomial predictive of the account's usual share,
//!   learned from its earlier events plus a prior share worth a few events;
//! - "slower than usual": the Mann–Whitney rank test of the recent values against
//!   the account's own earlier ones (exact for small samples);
//! - continuous measures: a normal tail of a z-score against the measure's spread, or
//!   Student's t where that spread is itself estimated from a few months (KPIs);
//! - how much a client's activity varies beyond Poisson: Pearson's X² over its
//!   four-week blocks, by moments, pooled with the team's (`block_x2`);
//! - meeting gaps: scheduled slots each missed with the account's own probability, so
//!   a wait of m slots has the geometric tail `q^m`;
//! - discrete tails are mid-p (half the probability of the observed value counts), so
//!   small samples are neither over- nor under-confident on average.

/// The events and the exposure of counts `(n, exposure)`, summed.
pub fn totals(blocks: &[(f64, f64)]) -> (f64, f64) {
    blocks
        .iter()
        .fold((0.0, 0.0), |(n, d), &(bn, bd)| (n + bn, d + bd))
}

/// Pearson's X² of counts `(n, exposure)` against one common rate (total events
/// over total exposure), with its degrees of freedom and the mean count per block:
/// over-dispersion by moments, since X² is about `(B − 1)(1 + μ c²)` for `B`
/// blocks of mean count `μ` whose rate moves by a coefficient of variation `c`.
/// `None` below two blocks, or without events or exposure.
pub fn block_x2(blocks: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let (total, exposure) = totals(blocks);
    let dof = blocks.len() as f64 - 1.0;
    if dof < 1.0 || total <= 0.0 || exposure <= 0.0 {
        return None;
    }
    let rate = total / exposure;
    let x2 = blocks
        .iter()
        .filter(|(_, o)| *o > 0.0)
        .map(|&(n, o)| (n - rate * o).powi(2) / (rate * o))
        .sum();
    Some((x2, dof, total / blocks.len() as f64))
}

/// `P(Z > z)` for a standard normal `Z`, from Abramowitz & Stegun's erfc 7.1.26
/// (absolute error below 1.5e-7: ample for evidence that is full at 1e-3).
pub fn normal_sf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    (erfc / 2.0).clamp(0.0, 1.0)
}

/// `P(T > t)` for Student's t with `dof` degrees of freedom: a z-score whose spread
/// was estimated from `dof` degrees of freedom has heavier tails than the normal,
/// which is what keeps a few calm months from making one bad month look impossible.
/// `½ I_{dof/(dof+t²)}(dof/2, ½)` for `t > 0`, the incomplete beta from its continued
/// fraction (Numerical Recipes 6.4).
pub fn student_t_sf(t: f64, dof: f64) -> f64 {
    if !t.is_finite() || dof <= 0.0 {
        return if t > 0.0 { 0.0 } else { 1.0 };
    }
    let tail = 0.5 * incomplete_beta(dof / 2.0, 0.5, dof / (dof + t * t));
    if t >= 0.0 { tail } else { 1.0 - tail }.clamp(0.0, 1.0)
}

/// Mid-p upper tail `P(K > k) + P(K = k) / 2` for `K ~ BetaBinomial(n, a, b)`: `k`
/// of `n` when the share itself is only known as `Beta(a, b)` (the account's usual
/// share from `a + b` earlier events, prior included), the predictive of a share
/// learned from a short record, wider than the binomial at its mean.
pub fn beta_binomial_upper_midp(k: i64, n: i64, a: f64, b: f64) -> f64 {
    if n <= 0 || k <= 0 {
        return 1.0;
    }
    let (a, b) = (a.max(1e-9), b.max(1e-9));
    let k = k.min(n);
    let ln_beta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
    // pmf(k) once, then upwards by the ratio
    // pmf(j + 1) / pmf(j) = (n − j) / (j + 1) × (j + a) / (n − j − 1 + b).
    let (nf, kf) = (n as f64, k as f64);
    let at = (ln_choose(n, k) + ln_beta(kf + a, nf - kf + b) - ln_beta(a, b)).exp();
    let (mut pmf, mut above) = (at, 0.0);
    for j in k..n {
        let j = j as f64;
        pmf *= (nf - j) / (j + 1.0) * (j + a) / (nf - j - 1.0 + b);
        above += pmf;
    }
    (above + at / 2.0).clamp(0.0, 1.0)
}

/// Mid-p lower tail `P(K < k) + P(K = k) / 2` for `K ~ BetaBinomial(n, a, b)`.
pub fn beta_binomial_lower_midp(k: i64, n: i64, a: f64, b: f64) -> f64 {
    // Failures `n - k` in the upper tail with the share's roles swapped.
    beta_binomial_upper_midp(n - k, n, b, a)
}

/// Largest `n × m` for which [`mann_whitney_upper_midp`] counts exactly.
const MANN_WHITNEY_EXACT: i64 = 400;

/// Mid-p upper tail `P(U > u) + P(U = u) / 2` of the Mann–Whitney statistic: `U`
/// counts the (recent, earlier) pairs in which the recent value is the larger, a
/// tie counting half, for `n` recent and `m` earlier values from one distribution
/// (then the recent values' ranks are a uniformly random choice of `n` of the
/// `n + m`). `u2` is twice `U`, so ties stay exact. Free of any assumption about the
/// values' shape, and it reads every rank: two recent replies slower than all ten
/// earlier ones are 1 in 66 (mid-p 1 in 132), where counting the recent values
/// above the usual upper quartile said about 1 in 13. Exact for small samples (`n·m` up to
/// MANN_WHITNEY_EXACT: the coefficients of the Gaussian binomial `[n+m, n]_q`
/// count the arrangements with each `U`), else the normal approximation.
pub fn mann_whitney_upper_midp(u2: i64, n: i64, m: i64) -> f64 {
    if n <= 0 || m <= 0 {
        return 1.0;
    }
    let (nf, mf) = (n as f64, m as f64);
    if n * m > MANN_WHITNEY_EXACT {
        let mean = nf * mf / 2.0;
        let sd = (nf * mf * (nf + mf + 1.0) / 12.0).sqrt();
        return normal_sf((u2 as f64 / 2.0 - mean) / sd);
    }
    let law = mann_whitney_law(n, m);
    let top = (n * m) as usize;
    let u = u2.clamp(0, 2 * top as i64);
    // U > u counts from ⌊u⌋ + 1; U = u only for a whole u.
    let above = law.tail.get((u / 2 + 1) as usize).copied().unwrap_or(0.0);
    let at = if u % 2 == 0 {
        law.point[(u / 2) as usize]
    } else {
        0.0
    };
    (above + at / 2.0).clamp(0.0, 1.0)
}

/// The exact law of the Mann–Whitney `U` for `n` and `m`: `P(U = u)` and
/// `P(U ≥ u)`.
struct MannWhitneyLaw {
    point: Vec<f64>,
    tail: Vec<f64>,
}

thread_local! {
    /// Laws already counted, by `(n, m)`: accounts share their sample sizes, and a
    /// run ranks every account's replies on several dates.
    static MANN_WHITNEY_LAWS: std::cell::RefCell<
        std::collections::HashMap<(i64, i64), std::rc::Rc<MannWhitneyLaw>>,
    > = std::cell::RefCell::new(std::collections::HashMap::new());
}

fn mann_whitney_law(n: i64, m: i64) -> std::rc::Rc<MannWhitneyLaw> {
    MANN_WHITNEY_LAWS.with(|laws| {
        std::rc::Rc::clone(
            laws.borrow_mut()
                .entry((n, m))
                .or_insert_with(|| std::rc::Rc::new(count_mann_whitney(n, m))),
        )
    })
}

/// Π_{i=1..n} (1 − q^(m+i)) / (1 − q^i), the Gaussian binomial `[n+m, n]_q`,
/// coefficient by coefficient in integers: how many arrangements give each `U`.
fn count_mann_whitney(n: i64, m: i64) -> MannWhitneyLaw {
    let top = (n * m) as usize;
    let mut c = vec![0i128; top + 1];
    c[0] = 1;
    for i in 1..=n as usize {
        let shift = m as usize + i;
        for k in (shift..=top).rev() {
            c[k] -= c[k - shift];
        }
        for k in i..=top {
            c[k] += c[k - i];
        }
    }
    let total: i128 = c.iter().sum();
    let point: Vec<f64> = c.iter().map(|&k| k as f64 / total as f64).collect();
    let mut tail = vec![0.0; top + 2];
    let mut above: i128 = 0;
    for k in (0..=top).rev() {
        above += c[k];
        tail[k] = above as f64 / total as f64;
    }
    MannWhitneyLaw { point, tail }
}

/// `ln C(n, k)`, through [`ln_gamma`].
fn ln_choose(n: i64, k: i64) -> f64 {
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

/// The regularized incomplete beta `I_x(a, b)`.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // The continued fraction converges fast below its mean; above it, by symmetry.
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(b, a, 1.0 - x) / b
    }
}

/// Lentz's evaluation of the incomplete beta's continued fraction.
fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        for aa in [
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ] {
            d = 1.0 + aa * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + aa / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-14 {
            break;
        }
    }
    h
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        sum += g / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Mid-p upper tail `P(K > k) + P(K = k) / 2` for `K ~ Binomial(n, p)`.
pub fn binomial_upper_midp(k: i64, n: i64, p: f64) -> f64 {
    if n <= 0 || k <= 0 {
        return 1.0;
    }
    let p = p.clamp(1e-9, 1.0 - 1e-9);
    let k = k.min(n);
    // ln pmf(j + 1) = ln pmf(j) + ln((n - j) / (j + 1)) + ln(p / (1 - p)), from
    // pmf(0) = (1 - p)^n; then the tail is summed upwards from k itself, so a small
    // tail is not the difference of two numbers near 1.
    let ratio = (p / (1.0 - p)).ln();
    let step = |ln_pmf: f64, j: i64| ln_pmf + ((n - j) as f64 / (j + 1) as f64).ln() + ratio;
    let mut ln_pmf = n as f64 * (1.0 - p).ln();
    for j in 0..k {
        ln_pmf = step(ln_pmf, j);
    }
    let at = ln_pmf.exp();
    let mut tail = at / 2.0;
    for j in k..n {
        ln_pmf = step(ln_pmf, j);
        let term = ln_pmf.exp();
        tail += term;
        if term < tail * 1e-17 && (j as f64) > n as f64 * p {
            break;
        }
    }
    tail.clamp(0.0, 1.0)
}

/// Mid-p lower tail `P(K < k) + P(K = k) / 2` for `K ~ Binomial(n, p)`: fewer
/// successes than usual (attendance).
pub fn binomial_lower_midp(k: i64, n: i64, p: f64) -> f64 {
    // Failures `n - k` in the upper tail at `1 - p`.
    binomial_upper_midp(n - k, n, 1.0 - p)
}

/// Mid-p lower tail of a recent count `k` over `recent_days`, given `base` events over
/// `base_days` of the account's baseline, when counts vary `dispersion` times more
/// than Poisson: the negative-binomial predictive (the rate's gamma posterior from
/// the baseline, Jeffreys prior) of the quasi-Poisson counts `k / dispersion` and
/// `base / dispersion`. Both counts are scaled: the recent count varies as much as
/// the baseline's (a busy or quiet month is as likely tonight as in the baseline),
/// which is what keeps a client who writes in bursts from reading as news whenever
/// a quiet month follows a busy one. The cdf at the scaled count is the regularized
/// incomplete beta, `P(X ≤ t) = I_p(r, t + 1)`, exact at `dispersion` 1 and
/// continuous between the lattice points otherwise; the mid-p is the mean of the
/// cdf one event below and at `k`.
pub fn count_drop_midp(
    k: i64,
    recent_days: f64,
    base: i64,
    base_days: f64,
    dispersion: f64,
) -> f64 {
    if base_days <= 0.0 || recent_days <= 0.0 {
        return 1.0;
    }
    let d = dispersion.max(1.0);
    let r = base as f64 / d + 0.5;
    let p = base_days / (base_days + recent_days);
    let cdf = |t: f64| {
        if t + 1.0 <= 0.0 {
            0.0
        } else {
            incomplete_beta(r, t + 1.0, p)
        }
    };
    let k = k.max(0) as f64;
    ((cdf((k - 1.0) / d) + cdf(k / d)) / 2.0).clamp(0.0, 1.0)
}

/// How much a tail probability counts as evidence: 0 at `p_start` and above, 1 at
/// `p_full` and below, linear in `ln p` between.
pub fn strength(p: f64, p_start: f64, p_full: f64) -> f64 {
    if p >= p_start {
        return 0.0;
    }
    ((p_start.ln() - p.max(1e-300).ln()) / (p_start.ln() - p_full.ln())).clamp(0.0, 1.0)
}

/// "About 1 in N": the odds a reason quotes, rounded to a figure people say.
pub fn one_in(p: f64) -> u64 {
    let n = (1.0 / p.max(1e-12)).round().max(1.0);
    let step = match n {
        n if n < 20.0 => 1.0,
        n if n < 100.0 => 5.0,
        n if n < 1000.0 => 50.0,
        n if n < 10_000.0 => 500.0,
        _ => 5000.0,
    };
    ((n / step).round() * step).min(100_000.0) as u64
}

/// `P(X > x)` for `X ~ χ²` with an even number of degrees of freedom `df = 2k`:
/// `e^(-x/2) Σ_{i<k} (x/2)^i / i!` (exact; Fisher's method only needs even ones).
pub fn chi2_sf_even(x: f64, df: usize) -> f64 {
    let half = x / 2.0;
    let (mut term, mut sum) = (1.0, 1.0);
    for i in 1..df / 2 {
        term *= half / i as f64;
        sum += term;
    }
    ((-half).exp() * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pearson's X² by hand: blocks 4, 8, 12 over equal exposure against their mean
    /// 8 are 2 + 0 + 2 = 4 on 2 degrees of freedom; half the exposure in one block
    /// halves what it is expected to hold.
    #[test]
    fn block_x2_measures_spread_beyond_poisson() {
        let (x2, dof, mean) = block_x2(&[(4.0, 28.0), (8.0, 28.0), (12.0, 28.0)]).unwrap();
        assert!(
            (x2 - 4.0).abs() < 1e-12 && dof == 2.0 && mean == 8.0,
            "{x2} {dof} {mean}"
        );
        let (x2, _, _) = block_x2(&[(4.0, 14.0), (8.0, 28.0)]).unwrap();
        assert!(x2.abs() < 1e-12, "{x2}");
        assert_eq!(block_x2(&[(5.0, 28.0)]), None);
        assert_eq!(block_x2(&[(0.0, 28.0), (0.0, 28.0)]), None);
    }

    #[test]
    fn normal_tail_matches_tables() {
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_sf(1.959_964) - 0.025).abs() < 1e-6);
        assert!((normal_sf(-1.0) - 0.841_344_7).abs() < 1e-6);
        assert!((normal_sf(3.0) - 0.001_349_9).abs() < 1e-6);
    }

    #[test]
    fn student_t_tail_matches_tables() {
        // Two-sided 5% points: 12.706 (1 dof), 2.228 (10), 2.042 (30).
        for (t, dof) in [(12.706_2, 1.0), (2.228_1, 10.0), (2.042_3, 30.0)] {
            let p = student_t_sf(t, dof);
            assert!((p - 0.025).abs() < 1e-5, "t {t} dof {dof}: {p}");
        }
        // One-sided 0.1% at 13 dof: 3.852; symmetric below 0.
        assert!((student_t_sf(3.852, 13.0) - 0.001).abs() < 2e-6);
        assert!((student_t_sf(-1.5, 7.0) + student_t_sf(1.5, 7.0) - 1.0).abs() < 1e-12);
        assert_eq!(student_t_sf(0.0, 5.0), 0.5);
        // Heavier than the normal, and the normal in the limit.
        assert!(student_t_sf(4.0, 8.0) > 10.0 * normal_sf(4.0));
        assert!((student_t_sf(2.0, 1e6) - normal_sf(2.0)).abs() < 1e-6);
    }

    #[test]
    fn beta_binomial_is_the_binomial_with_an_uncertain_share() {
        // Beta(1, 1): every count of n equally likely, 1 / (n + 1).
        let p = beta_binomial_upper_midp(3, 4, 1.0, 1.0);
        assert!((p - (0.2 + 0.1)).abs() < 1e-12, "{p}");
        // A share known from many events: the binomial.
        let known = beta_binomial_upper_midp(5, 10, 2_000.0, 8_000.0);
        assert!(
            (known - binomial_upper_midp(5, 10, 0.2)).abs() < 1e-4,
            "{known}"
        );
        // Known from a few: wider.
        assert!(beta_binomial_upper_midp(5, 10, 2.0, 8.0) > known);
        let lo = beta_binomial_lower_midp(1, 10, 8.0, 2.0);
        assert!((lo - beta_binomial_upper_midp(9, 10, 2.0, 8.0)).abs() < 1e-12);
    }

    #[test]
    fn binomial_tails_match_direct_sums() {
        // K ~ Bin(10, 0.2): P(K > 4) = 0.032793, P(K = 4) = 0.088080.
        let up = binomial_upper_midp(4, 10, 0.2);
        assert!((up - (0.032_793 + 0.088_080 / 2.0)).abs() < 1e-5, "{up}");
        // Symmetric at p = 0.5.
        let lo = binomial_lower_midp(3, 10, 0.5);
        let hi = binomial_upper_midp(7, 10, 0.5);
        assert!((lo - hi).abs() < 1e-12);
        assert_eq!(binomial_upper_midp(0, 10, 0.2), 1.0);
        // Large n does not underflow.
        // Large n: neither underflow nor cancellation (normal approximation 1.2e-6).
        let far = binomial_upper_midp(600, 5000, 0.1);
        assert!(far > 1e-7 && far < 1e-5, "{far}");
    }

    #[test]
    fn a_sparse_drop_is_weak_evidence_and_a_dense_one_strong() {
        // Usually 2 meetings in 60 days (6 in 180), now 1: well within chance.
        assert!(count_drop_midp(1, 60.0, 6, 180.0, 1.5) > 0.2);
        // Usually 20 in 60 days, now 10: about 1 in 20 once the month-to-month
        // spread of both counts is counted; now 5: unlikely.
        let half = count_drop_midp(10, 60.0, 60, 180.0, 1.5);
        assert!(half > 0.02 && half < 0.1, "{half}");
        assert!(count_drop_midp(5, 60.0, 60, 180.0, 1.5) < 0.005);
        // More than usual is no evidence of a drop.
        assert!(count_drop_midp(30, 60.0, 60, 180.0, 1.5) > 0.9);
    }

    #[test]
    fn count_tail_is_the_negative_binomial_mid_p_and_widens_with_dispersion() {
        // At dispersion 1: the Poisson–gamma predictive summed term by term.
        let (base, base_days, days) = (24i64, 180.0, 60.0);
        let r = base as f64 + 0.5;
        let p: f64 = base_days / (base_days + days);
        let mut pmf = p.powf(r);
        let mut below = 0.0;
        for k in 0..12i64 {
            let mid = below + pmf / 2.0;
            let got = count_drop_midp(k, days, base, base_days, 1.0);
            assert!((got - mid).abs() < 1e-9, "k {k}: {got} against {mid}");
            below += pmf;
            pmf *= (k as f64 + r) / (k + 1) as f64 * (1.0 - p);
        }
        // A client whose months vary four times more than Poisson: half its usual
        // 60-day count is ordinary; at Poisson spread it would be news.
        let bursty = count_drop_midp(20, 60.0, 120, 180.0, 4.0);
        let steady = count_drop_midp(20, 60.0, 120, 180.0, 1.0);
        assert!(bursty > 0.05 && steady < 0.002, "{bursty} {steady}");
        // Fewer events is never less evidence, at any dispersion.
        for d in [1.0, 1.5, 4.0, 17.0] {
            let tails: Vec<f64> = (0..60)
                .map(|k| count_drop_midp(k, 60.0, 120, 180.0, d))
                .collect();
            assert!(tails.windows(2).all(|w| w[0] <= w[1]), "dispersion {d}");
        }
    }

    #[test]
    fn mann_whitney_counts_arrangements() {
        // n = m = 2: the six arrangements give U = 0, 1, 2, 2, 3, 4.
        let tail = |u2| mann_whitney_upper_midp(u2, 2, 2);
        assert!((tail(8) - 1.0 / 12.0).abs() < 1e-12);
        assert!((tail(6) - (1.0 / 6.0 + 1.0 / 12.0)).abs() < 1e-12);
        assert!((tail(4) - (2.0 / 6.0 + 2.0 / 12.0)).abs() < 1e-12);
        // A tie (U = 3.5) sits between its neighbours.
        assert!((tail(7) - 1.0 / 6.0).abs() < 1e-12);
        // Both recent above all ten earlier: 1 in C(12, 2) = 66, mid-p half that.
        assert!((mann_whitney_upper_midp(40, 2, 10) - 0.5 / 66.0).abs() < 1e-12);
        // Symmetric about n·m / 2, and the exact count close to the normal
        // approximation where they hand over (20 × 20).
        assert!((mann_whitney_upper_midp(400, 20, 20) - 0.5).abs() < 1e-9);
        let exact = mann_whitney_upper_midp(2 * 260, 20, 20);
        let normal = normal_sf((260.0 - 200.0) / (400.0f64 * 41.0 / 12.0).sqrt());
        assert!((exact - normal).abs() < 0.005, "{exact} {normal}");
        // Larger U is never weaker evidence.
        let tails: Vec<f64> = (0..=120)
            .map(|u2| mann_whitney_upper_midp(u2, 3, 20))
            .collect();
        assert!(tails.windows(2).all(|w| w[0] >= w[1]));
        assert_eq!(mann_whitney_upper_midp(5, 0, 10), 1.0);
    }

    #[test]
    fn strength_ramps_in_log_p() {
        assert_eq!(strength(0.2, 0.05, 0.001), 0.0);
        assert_eq!(strength(0.0005, 0.05, 0.001), 1.0);
        let mid = strength((0.05f64 * 0.001).sqrt(), 0.05, 0.001);
        assert!((mid - 0.5).abs() < 1e-9);
    }

    #[test]
    fn odds_are_round() {
        assert_eq!(one_in(0.5), 2);
        assert_eq!(one_in(0.013), 75);
        assert_eq!(one_in(0.0004), 2500);
    }
}
