"""The EM loop: from a started model to its fitted state.

:func:`run_em` iterates *passes*. A pass is one fused E-step over the data
(the statistics and the log-likelihood at the current parameters) followed by
the M-step from those statistics: one ordinary EM iteration, and the only
thing that reads the data. Restarts and ``warm_start`` in
:meth:`fastem.base.BaseMixture._fit` call :func:`run_em` on a working copy of
the estimator, so that the estimator itself changes only once the whole fit
has succeeded.

The value of a pass is the family's objective (``_lower_bound``), taken
after the M-step: the mean log-likelihood at the parameters the E-step used
for EM, the evidence lower bound per unit of sample weight for a variational
family (its E-step's responsibilities with the M-step's posteriors). Both
never decrease from pass to pass, and everything below applies to either.

The stopping rule
-----------------
EM converges linearly: near the peak the increments of the log-likelihood
shrink by a nearly constant ratio ``a``. From three consecutive EM values
``l0, l1, l2`` Aitken's acceleration estimates that ratio,
``a = (l2 - l1) / (l1 - l0)``, and the limit of the sequence,
``l_inf = l1 + (l2 - l1) / (1 - a)`` (Böhning, Dietz, Schaub, Schlattmann and
Lindsay 1994; Lindsay 1995; McLachlan and Krishnan, *The EM Algorithm and
Extensions*, 2nd ed., sec. 4.9). The fit has converged when the estimated
remaining gain ``l_inf - l1 = (l2 - l1) / (1 - a)`` is below ``tol`` (mean
log-likelihood per sample, scikit-learn's unit), and, as a guard, the largest
relative change of any parameter array in the last step is below
``sqrt(tol)`` (Gaussian means relative to the components' spread where
that is larger than they are): near the peak the log-likelihood is quadratic in the
parameters, so a step of relative size ``sqrt(tol)`` moves it by about
``tol``. When EM converges fast (``a`` near 0) the rule is scikit-learn's
(the last change below ``tol``); when it crawls (``a`` near 1), where a small
change says nothing about the distance to the peak, it keeps going.

Acceleration
------------
SQUAREM (Varadhan and Roland 2008, *Scand. J. Statist.* 35, 335-353, scheme
S3, with the step-length adaptation and the stabilising EM step of their R
package ``SQUAREM``: ``step.min0 = 1``, ``step.max0 = 1``, but ``mstep = 2``
where the package has 4, as measured below):
from a point ``p0`` two EM passes give ``p1 = F(p0)`` and ``p2 = F(p1)``;
with ``r = p1 - p0``, ``v = p2 - 2 p1 + p0`` and ``alpha = ||r|| / ||v||``
(at least 1, at most a bound that starts at 1, doubles each time a step
at the bound is accepted and halves when such a step is rejected), the
extrapolated point is ``p' = p0 + 2 alpha r + alpha^2 v``. It is computed on
the family's parameters in unconstrained coordinates (log-weights, and e.g.
log-scales or Cholesky factors with log-diagonals; see
``_unconstrained_parameters`` in :mod:`fastem.base`), so it is again a valid
model in most cases. With ``alpha = 1`` it is ``p2`` itself, and EM goes on.

The monotonicity safeguard judges the extrapolated point by its EM image,
the stabilising step ``F(p')`` of the R package: ``p'`` itself can lie
outside the set of parameters an M-step can produce (a scale below the
family's floor, a variance below ``reg_covar``), where the log-likelihood
can exceed anything EM reaches, so it is never accepted, and its own
log-likelihood, often below that of its image when the step overshoots,
decides nothing. A pass at ``p'`` gives ``F(p')``, a pass at ``F(p')`` gives
``l(F(p'))``, and the image is accepted only if that is at least ``l(p1)``,
the last accepted value. That pass's M-step is ``p1`` of the next cycle, so
an accepted cycle costs three ordinary passes (the fused E-step at a point
gives both its log-likelihood and the statistics of its EM step); a
rejected one sends the fit on from ``p2`` (plain EM), after at most two
wasted passes. The accepted points are therefore M-step outputs with
non-decreasing log-likelihoods. No second copy of the data and nothing per
point is kept (the Anderson steps below keep five parameter vectors), so it
works for every family and every data source.

The stopping rule sees three consecutive EM values after every accepted
extrapolation: ``l(p')``, ``l(F(p'))`` and the pass after (EM from ``p'``).

At a peak where a component sits on a point or two at ``reg_covar``, the
log-likelihood of the M-step outputs goes up and down by 1e-10 per sample
(rounding of parameters on a nearly singular covariance, far beyond the
noise the stopping rule allows), extrapolations are accepted on that
rounding, and the run can come back, bitwise, to a point it started a cycle
from: from there it repeats itself until ``max_iter`` (four components on
the 35 hill races of MASS's ``hills``: a cycle of 12 passes from pass 39 to
1,000, ``converged_=False`` with a ConvergenceWarning, at its peak). A run
that starts a cycle from the state it started one from before (parameters,
step bound) goes on with plain EM. Plain EM itself can cycle there: its
map, in floating point, comes back bitwise to parameters it started a pass
from, and the stopping rule, which needs a steady ratio of increments after
a jump, never holds on the cycle's ups and downs. Such a cycle is EM at its
peak to within the rounding of its values: a plain pass that ends at
parameters an earlier plain pass started from ends the run, converged, when
the log-likelihoods of the passes since then span less than ``tol`` (the
hill races: values 1e-10 per sample apart, converged at pass 60; a float32
run at a fixed point of float32 EM, its parameters bitwise the same after a
pass, at that pass). A float32 run's cycle ends it whatever its span, as one
converged only within its rounding noise (``EMResult.unresolved``), finished
in float64, unless ``tol`` is 0, which asks for ``max_iter`` passes: Poisson
counts in the hundreds round their float32 log-densities by about 1e-4, and
a cycle of two passes 4.9e-5 per sample apart ran to ``max_iter``.

An extrapolation excites fast directions that decay within a few passes;
three EM values right after it can show only their decay, and Aitken's
estimate then misses a slower direction (fits stopped 1.9e-7 and 1.5e-4
per sample short of the peak that way). So after a jump a run converges
only when the rule holds on three consecutive triples of EM values (five
plain passes) and the ratio of consecutive increments is steady
(``_steady_ratio``) over up to the last 17 values of the chain: ``1 - a``,
each end's measured over half of them (over many passes rounding blurs it
by a fraction of what it does to one pass's ratio), shrinks by at most a
hundredth per step, and by at most a tenth of ``1 - a`` itself per ``1 /
(1 - a)`` passes, the passes over which EM makes most of the gain Aitken's
estimate promises; where rounding hides a change of a hundredth per step
over the values so far, more plain passes are taken to tell. A loss (the
regularised M-step) is judged as a gain is, and one whose ``1 - a`` grows by
more than a thousandth per step (``_STEADY_LOSS``; where rounding hides
such a change, more plain passes are taken) is about to turn into a gain
that Aitken's estimate of the loss does not see (a fit with missing values
stopped 53 ``tol`` short of its peak with the losses of its last passes
shrinking by ratios 0.88, 0.67, 0.34; five components on iris with 60% of
its entries missing 8.5 ``tol`` short, the ratio of its losses climbing
from 0.40 to 0.86). With a hundredth per step allowed, as for a gain's
shrink, ``missing='em'`` fits whose ``1 - a`` grew by 0.9% and 0.6% per
step stopped 284 and 20 ``tol`` short, the losses turning 48 and 73 passes
on into gains that plain EM was still making after 20,000 passes (iris with
its first feature missing for its first class and 25% of the entries;
breast cancer's first five features, the third missing for one class and
20%, tied, K=3); they now report ``converged_=False`` at ``max_iter``. Of
144 fits of that kind (``scripts/bench_convergence.py --stops
--missing``), 116 claimed convergence with a hundredth, one of them 20
``tol`` short, and 115 with a thousandth, none more than 0.8 ``tol``
short, in 42,433 passes against 42,460 (on an AMD CPU; on an Intel Xeon of family 6,
model 167, whose rounding takes other paths, 117 claim it in 43,021 passes, four of
them more than 3 ``tol`` short, the worst 229: an open fault, as are the fits that
tests/test_convergence.py marks ``xfail`` there; the "ridges" below: 57 claim it, one
44.7 ``tol`` short, and 80 default fits 7,277 passes, none short). While the rule is being confirmed,
no extrapolation is tried. Nor does Aitken's estimate ever assume a faster
ratio than the slowest measured near the peak (``_Run.gain_estimate``):
after a jump the ratio can read 0.91 for tens of passes where it read 0.994
before it. A loss beyond rounding never reads as no gain left: Aitken's
estimate of the loss still to come bounds the estimate (for losses that
grow, what they would lose in the passes left before ``max_iter``; at a
peak on a ridge, losses of 1e-12 per pass grow slowly; three components on
iris with 20% of its entries missing lost 8e-6 per sample per pass as a
covariance collapsed towards ``reg_covar`` and stopped 2,537 ``tol`` below
the peak plain EM then climbed to), and once a slow ratio is known the
loss's size bounds it as a gain's does. Fits
of three or four components to one 2-D blob lie on a ridge that plain EM
climbs in thousands of passes: with a tenth for the ratio's shrink, one
step checked and no memory of the slowest ratio, 54 of 60 such fits
(``scripts/bench_convergence.py --ridges``) claimed convergence, 11 of them
more than 3 ``tol`` short, the worst 1,749; with a hundredth per step
judged on single-step ratios over five values and any loss read as no gain
left, 58 claimed it, one of them 283 ``tol`` short (on a Zen 5 CPU, where
its losses shrank faster and faster, ``1 - a`` from -0.1 to 0.34); now 58
claim it, all within 3 ``tol`` (the worst 0.7), and 2 report
``converged_=False`` at ``max_iter``, far below their peaks. Over 80 default fits to small data
sets (``scripts/bench_convergence.py --stops``) the passes to the stop rose
6.7% (7,326 against 6,867) and the fit time about as much; none of them
stops more than 3 ``tol`` short, before or after. A thousandth per step for
a loss's ``1 - a`` took them to 7,358 passes (0.4% more; 7,346 where
rounding that hid a hundredth was still let stand), and the ridges' fits
from 27,249 passes to 27,293, with 58 claiming convergence as before.
Plain EM, and a run before its first accepted jump, keep the rule on one
triple: with three, fits at ``tol=1e-2`` took up to 22 passes where they
had taken 3. An increment within the
rounding of the log-likelihood (``_Run.resolution``) is no gain: without
that, float32 fits, whose EM values near the peak go up and down by a few
units of rounding, ran to ``max_iter`` (18 of 60 small fits), and chunked
data stopped at other passes than the same data in memory. The float64
part is at most a hundredth of ``tol``, so a smaller ``tol`` is honoured.
Noise in float32 can also hide a slow climb (gains of 2e-9 per pass under
noise of 8e-8 left a fit 4.6e-3 per sample short): a run that converged
only to within its measured float32 noise says so (``EMResult.unresolved``),
and the estimator finishes it in float64, from its parameters rounded to
float32: that run confirms its stop as after a jump, with the slowest ratio
this one measured (``run_em``'s ``rounded_start`` and ``slowest``). So does a
float32 model continued on float64 data (``warm_start``), whose start is
rounded the same way.

After each accepted extrapolation come *Anderson steps* (type II Anderson
acceleration, Walker and Ni 2011; for EM, Henderson and Varadhan 2019; see
:func:`anderson_point`). Every pass, accepted or not, leaves a pair
(point, EM image) in unconstrained coordinates; from the last five pairs
(four differences) a least-squares secant step proposes the next point,
and one pass evaluates it. SQUAREM's step removes one slow direction per
cycle of three passes; near the peak, where EM is nearly an affine map,
the secant step removes all those the differences span, one pass each.
A step is accepted only if its point is one an M-step can produce (the
family's ``_in_m_step_image``: no variance below ``reg_covar``, no scale or
rate below its floor) and its log-likelihood is at least the best accepted
so far (so the accepted log-likelihoods stay non-decreasing, and every
accepted point is in the M-step's image); the first refused step returns
the model to the M-step of the last accepted pass and hands back to
SQUAREM, after one wasted pass. The
steps also end when one gains at most ``tol``. An Anderson point is not an
EM step of the one before, so after accepted steps the next cycle starts
with two EM passes, which give the stopping rule three consecutive values.

Measured on ``scripts/bench_convergence.py`` (passes until the
log-likelihood is within 1e-8 per sample of its limit), SQUAREM alone
needed 2.2x fewer passes than plain EM on the two exponentials (15 against
33), below the 3x of the other slow cases; with Anderson steps 4.1x (8),
and 3.5x to 10x on the other slow cases (the README's table). Over six
data sets and starts of the two exponentials, four of the overlapping Gaussians, three
three-exponential mixtures and ten fits of Old Faithful and iris, a memory
of four differences needed fewer passes than three or five (geometric
means of the ratio to plain EM 4.2, 9.3 and 6.7 on the first three; Anderson
steps alone, without SQUAREM's cycles, did worse on Old Faithful, 2.3 to
2.9 against 3.3 to 3.5, where the early steps are far from affine). Judging ``p'`` by
its own log-likelihood first (a pass saved when it is rejected) cost more
passes than it saved; so did starting the next cycle at ``p'`` itself
(extrapolating from ``p'``, ``F(p')``, ``F(F(p'))``: two passes per cycle, but
the stabilising step no longer damps what the extrapolation excited, and the
steps gain far less). Over eight further k-means++ starts of each of three
slow cases, a step-bound factor of 2 needed fewer passes than the
package's 4 (geometric means of
the ratio to plain EM: overlapping Gaussians 5.9 against 5.3, two
exponentials 3.3 against 3.1, Old Faithful 3.4 against 3.3); 8 and 16 did
no better overall.

Decreases
---------
Exact EM never lowers the log-likelihood, but a regularised M-step (the
Gaussian ``reg_covar``, and the variational M-step that adds it to each
component's scatter) maximises a penalised objective, and each of its
steps may lower the objective by a bounded amount, the family's
*allowance* (``_m_step_allowance`` in :mod:`fastem.base`). A pass is a
fault only if it falls below the best accepted pass by more than the
dtype's rounding margin (:func:`rounding_margin`) plus the allowances of the
steps since then: such a fit stops at its best parameters and is reported
(a :class:`~fastem.LikelihoodDecreaseWarning`, or a float64 finish of a
float32 fit; see :meth:`fastem.base.BaseMixture.fit`). Decreases within the
allowances are what the regularised M-step does, and pass silently. A
start outside the M-step's image (a scale below its floor, a variance below
``reg_covar``: a user's start, or a warm start from a fit under a lower
floor) can lie above every point EM reaches from it: a fall from it is no
fault, and the best pass and the stopping rule's chain start after it.
"""

import collections
import contextlib
import functools
import hashlib
import math
from typing import NamedTuple, Optional

import numpy as np

__all__ = ["EMResult", "aitken_remaining_gain", "anderson_point", "run_em"]

# SQUAREM's step-length bound: its first value, as in Varadhan and Roland's
# R package (step.max0 = 1), and the factor by which it grows when a step at
# it is accepted (and shrinks when one is rejected): 2, measured (see above),
# where the package has mstep = 4.
_STEP_MAX0 = 1.0
_STEP_FACTOR = 2.0

# After a jump, a fit stops only when the stopping rule holds on this many
# consecutive triples of EM values (see above); before any, on one.
_CONFIRMATIONS = 3

# The ratio of consecutive increments is steady if ``1 - ratio`` keeps at
# least this share of its last value, up to rounding (see _steady_ratio):
# 0.99, where 0.9 let fits on a likelihood ridge stop 1,749 tol short with
# the ratio still climbing (see the module docstring).
_STEADY = 0.99

# A loss's ``1 - ratio`` may grow by at most this share of itself per step, up to
# rounding (see _steady_ratio): losses that shrink faster and faster are about to
# turn into gains. 0.999, where 0.99 let missing='em' fits stop 284 and 20 tol short
# of a peak plain EM still climbed to after 20,000 passes (see the module docstring),
# and 0.995 the second of them; 0.998 stopped neither.
_STEADY_LOSS = 0.999

# Where ``1 - ratio`` is below a hundred ``_STEADY`` passes' worth, it may
# shrink by at most its own share of itself divided by this, per pass
# (see _steady_ratio).
_STEADY_PASSES = 10

# The steadiness of the ratio is judged over up to this many EM values; fewer
# as long as the rounding of the ratios lets them show a climb (see _steady_ratio).
_STEADY_SPAN = 17

# Per-point log-densities in float64 round the mean log-likelihood by about
# one unit of its size: the same fit with its weights scaled by 1e-140 or
# 1e45 moved its increments by 1e-15 at a size of 3.4. This many units bound
# that rounding in the steadiness of the ratio (see _Run.ratio_noise).
_RATIO_NOISE_UNITS = 4

# Increments below this many float64 units of the log-likelihood's size are
# rounding of its float64 sums, not a gain (see _Run.resolution).
_RESOLUTION = 256 * np.finfo(np.float64).eps
_FLOAT64_EPS = float(np.finfo(np.float64).eps)

# A decrease between consecutive EM values of up to this many units of the
# data dtype's rounding of the log-likelihood's size is rounding noise of the
# per-point log-densities (see _Run.resolution).
_NOISE_UNITS = 16

# A ratio of increments counts as measured near the peak when Aitken's
# estimate is below this many ``tol`` and the increment above this many
# resolutions (see _Run.gain_estimate).
_SLOWEST_NEAR = 1000
_SLOWEST_ABOVE = 64

# Anderson steps use the last this many differences of (point, EM image)
# pairs: 4, measured (see above).
_ANDERSON_MEMORY = 4


class EMResult(NamedTuple):
    """What one EM run leaves: set on the estimator only if the whole fit succeeds."""

    parameters: tuple  # the fitted parameters, in ``_parameter_names`` order
    n_iter: int  # passes over the data
    lower_bound: float  # mean log-likelihood per sample of the last accepted pass
    lower_bounds: list  # that of every accepted pass, non-decreasing up to rounding and regularisation
    converged: bool
    stopped: bool  # the callback asked to stop
    decrease: tuple  # () or (earlier pass, its value, later pass, its value): a drop
    stats: object  # SufficientStatistics of the last accepted pass (None before any pass)

    # Aitken's estimate of the mean log-likelihood still to gain, from the last
    # three consecutive EM values (inf before there are three)
    remaining_gain: float = np.inf
    # converged only to within the rounding noise measured in the data's
    # dtype (float32), which can hide real gains: the caller finishes in float64
    unresolved: bool = False
    # the slowest ratio of consecutive increments measured near the peak
    # (see _Run.gain_estimate), 0 if none was
    slowest: float = 0.0
    # a float32 run finished in float64: the mean log-likelihood that rounding
    # its parameters back to float32 loses (see BaseMixture._finish_in_float64);
    # None where no float64 finish measured it
    rounding_loss: Optional[float] = None
    # the mean log-likelihood by which a move out of this converged run (see
    # BaseMixture._escape_local_optimum) ended higher when max_iter cut it short,
    # unconverged; 0 where none did
    unfinished_move: float = 0.0
    # how far below this run's bound a move's run still climbed when max_iter cut it
    # short, unconverged: a move not judged (a longer run may end higher; Aitken's
    # estimate at the cut can fall short of its end); inf where none was cut so
    undecided_move: float = np.inf


def rounding_gap(result, other, dtype):
    """How far apart rounding alone can put the lower bounds of two runs to one peak.

    64 units of the coarser precision of the passes that computed the two
    bounds, relative to ``other``'s: the data's ``dtype``, or float64 for a
    float32 run finished in float64 (``EMResult.rounding_loss`` set), whose
    bound is that of its float64 passes. Taking float32's for such runs made
    the margin grow with the bound's size, which the data's units set: on a
    float32 fit of data in units 1e4 its 2.4e-4 per sample kept the first start
    where a later one's float64 passes had climbed 2e-4 higher.
    """
    eps = max(
        float(np.finfo(np.float64 if run.rounding_loss is not None else dtype).eps)
        for run in (result, other)
    )
    return 64 * eps * (1.0 + abs(np.nan_to_num(other.lower_bound)))


def rounding_margin(lower_bound, dtype):
    """How far a mean log-likelihood may fall between EM steps by rounding alone.

    Per-point log-densities are computed in the data's dtype; their sum is
    accumulated in float64. The terms of a log-density can be far larger than
    the result (a nearly collapsed component on rounded data), so the margin
    is ``eps ** (1/3)`` of the dtype relative to the magnitude of the value
    (float64: 6e-6, float32: 5e-3): above the rounding seen in such fits,
    and below what a wrong step (a cancelled statistic, a regularisation that
    dominates) costs.
    """
    return float(_cube_root_eps(dtype) * (1.0 + abs(lower_bound)))


@functools.lru_cache(maxsize=8)
def _cube_root_eps(dtype):
    """``eps ** (1/3)`` of ``dtype`` (NumPy's cbrt), computed once per dtype: every
    accepted pass asks for it."""
    return np.cbrt(np.finfo(dtype).eps)


def aitken_remaining_gain(l0, l1, l2, resolution=0.0):
    """Estimated gain of the log-likelihood from ``l1`` to the limit of EM.

    Aitken's delta-squared estimate from three consecutive EM values
    (Böhning et al. 1994; McLachlan and Krishnan 2008, sec. 4.9):
    ``(l2 - l1) / (1 - a)`` with ``a = (l2 - l1) / (l1 - l0)``.

    Parameters
    ----------
    l0, l1, l2 : float
        Consecutive EM values of the mean log-likelihood.
    resolution : float, default 0
        Increments at most this large are rounding of the values, not a
        gain (see :meth:`_Run.resolution`).

    Returns
    -------
    gain : float
        0 when the last step gained nothing (a fixed point, up to rounding),
        ``inf`` when the increments do not shrink (``a >= 1``, or a first step
        that gained nothing): EM is not yet in its linear phase, and the
        distance to the peak cannot be estimated.
    """
    d1 = l1 - l0
    d2 = l2 - l1
    if d2 <= resolution:
        return 0.0
    if d1 <= resolution or d2 >= d1:
        return np.inf
    return d2 / (1.0 - d2 / d1)


def anderson_point(points, images):
    """The next point of Anderson acceleration from points and their EM images.

    Type II Anderson acceleration (Anderson 1965; Walker and Ni 2011,
    *SIAM J. Numer. Anal.* 49, 1715-1735), as Henderson and Varadhan (2019,
    *J. Comput. Graph. Statist.* 28, 834-846) apply it to EM: with the
    residuals ``f_j = F(x_j) - x_j``, ``gamma`` minimises
    ``||f_m - sum_j gamma_j (f_{j+1} - f_j)||`` (least squares), and the
    point is ``F(x_m) - sum_j gamma_j ((x_{j+1} - x_j) + (f_{j+1} - f_j))``.
    For an affine map ``F`` whose fixed point is unique, once the
    differences span the space, that point is the fixed point: near its
    peak EM is nearly affine, and the steps converge much faster than EM.

    Parameters
    ----------
    points, images : sequence of ndarray of shape (n_parameters,)
        ``x_0 .. x_m``, oldest first, and ``F(x_0) .. F(x_m)``; ``m >= 1``.

    Returns
    -------
    ndarray of shape (n_parameters,)

    Raises
    ------
    numpy.linalg.LinAlgError
        The least-squares problem has no solution (non-finite pairs).
    """
    points = np.asarray(points, dtype=np.float64)
    images = np.asarray(images, dtype=np.float64)
    residuals = images - points
    # the differences as np.diff takes them, without its dispatch (a step per few passes)
    d_residuals = residuals[1:] - residuals[:-1]
    gamma = np.linalg.lstsq(d_residuals.T, residuals[-1], rcond=None)[0]
    return images[-1] - ((points[1:] - points[:-1]) + d_residuals).T @ gamma


def _steady_ratio(values, resolution, noise):
    """Whether the ratio of consecutive increments of the last EM values is steady.

    Aitken's estimate assumes a constant ratio ``a``. After an extrapolation
    the fast directions it excited decay first, and the ratio climbs
    towards that of the slowest direction; on a likelihood ridge it climbs
    to 1. Until it stops climbing, Aitken's estimate reads the fast
    directions' decay and misses the slow one. The ratio is judged over the
    increments since the last one that is rounding (at most ``resolution``)
    or of the other sign, at least three: ``1 - a`` measured over their
    first half and over their last half (the geometric mean of the ratios:
    over many steps the rounding of the increments, each known to within
    ``noise``, blurs it by a fraction of what it does to one step's ratio).
    It is steady if it shrank by at most a hundredth per step (``_STEADY``)
    and by at most ``(1 - a) / _STEADY_PASSES`` of itself per step (a tenth
    over the ``1 / (1 - a)`` steps in which EM makes most of the gain Aitken's
    estimate promises): for losses too (a regularised M-step can lower the
    log-likelihood), whose climbing ratio shows a slower direction under them
    as a gain's does. A loss's ``1 - a`` must also have grown by at most a
    thousandth per step (``_STEADY_LOSS``): a loss that shrinks faster and
    faster is about to turn into a gain, which Aitken's estimate of the loss
    does not see (``missing='em'`` fits whose ``1 - a`` grew by 0.9% and 0.6%
    per step, under a hundredth, stopped 284 and 20 ``tol`` short of peaks that
    plain EM was still climbing to after 20,000 passes). Gains
    that grew over the first half (``1 - a`` below 0 by more than rounding) are
    not steady either: they show a slow direction whose gains the fast ones
    excited by a jump first hid and then add to (after two losses, gains of
    5.9, 8.0, 7.3, 7.3 and 6.8e-11 per pass read as shrinking by 0.93-0.99, and
    a ``missing='em'`` fit stopped there, where plain EM then gained 4.6e-11
    per pass for 20,000 passes, 90 ``tol``). A
    fall after gains is no gain left, as a fall of rounding is. Nothing but
    the ratio's steadiness makes a gain steady: read as steady where the
    gain, were its increments never to shrink, would add less than ``tol``
    before ``max_iter``, a fit on a ridge with ``max_iter=400`` stopped 8.9
    ``tol`` short of a peak 2,500 passes away, ``converged_=True``.

    ``values``: at least four consecutive EM values.

    Returns True or False; None when the blur of the ratios hides a change of
    ``1 - a`` by a hundredth per step (for losses, a thousandth) over the
    values given, which are fewer than ``_STEADY_SPAN``: more passes can tell.
    """
    d = np.diff(values)
    if abs(d[-1]) <= resolution:
        return True  # no gain left that rounding lets the ratio resolve
    # the increments since the last one that is rounding or of the other sign
    broken = np.flatnonzero((np.abs(d[:-1]) <= resolution) | ((d[:-1] > 0.0) != (d[-1] > 0.0)))
    if broken.size and broken[-1] >= len(d) - 3:
        # too few to judge: a gain after none or after a loss, or a fall that is no
        # gain left (rounding beyond the resolution, as the values go up and down)
        return bool(d[-1] < 0.0)
    if broken.size:
        d = d[broken[-1] + 1:]
    # ``1 - a`` over the first and the last ``lag`` steps, ``span`` steps apart: over
    # many steps, rounding blurs it by a fraction of what it does to one step's ratio
    lag = (len(d) - 1) // 2
    span = len(d) - 1 - lag
    first, last = (d[lag] / d[0]) ** (1.0 / lag), (d[-1] / d[-1 - lag]) ** (1.0 / lag)
    # each increment is known to within ``noise``
    blur = noise * (
        first * (1.0 / abs(d[0]) + 1.0 / abs(d[lag]))
        + last * (1.0 / abs(d[-1 - lag]) + 1.0 / abs(d[-1]))
    ) / lag
    if d[-1] > 0.0 and 1.0 - first < -blur:
        return False  # gains that grew: a slower direction under the fast ones' decay
    allowed = max(_STEADY, 1.0 - (1.0 - first) / _STEADY_PASSES) ** span
    if 1.0 - last < allowed * (1.0 - first) - blur:
        return False
    grown = (1.0 - last) - (1.0 - first)
    if d[-1] < 0.0 and grown > (_STEADY_LOSS ** -span - 1.0) * abs(1.0 - first) + blur:
        return False
    finest = _STEADY_LOSS if d[-1] < 0.0 else _STEADY  # the finest change judged
    if len(values) < _STEADY_SPAN and blur > (1.0 - finest ** span) * abs(1.0 - first):
        return None
    return True


@functools.lru_cache(maxsize=64)
def _stretch_starts(sizes):
    """Where each of arrays of ``sizes`` starts when they lie end to end (int64, read-only),
    computed once per layout: the stopping rule asks for it at every pass it judges."""
    starts = np.cumsum((0,) + sizes[:-1])
    starts.flags.writeable = False
    return starts


def _relative_change(model, before, after):
    """The largest change of any parameter array, relative to that array's size.

    An array's size is its largest entry, or the scale the family gives it
    (``_change_scales``) where that is larger: Gaussian means of centred data
    are near 0, and a change of their last bits relative to themselves never
    fell below ``sqrt(tol)``.
    """
    before = model._named_parameters(before)
    after = model._named_parameters(after)
    scales = model._change_scales(before)
    # Every array's largest entry and change at once: the arrays end to end, each array's
    # maximum over its stretch (exact, as each one's own); the empty ones hold no stretch.
    sizes = {name: np.size(old) for name, old in before.items()}
    names = [name for name, size in sizes.items() if size]
    old = np.concatenate([before[name] for name in names], axis=None, dtype=np.float64)
    new = np.concatenate([after[name] for name in names], axis=None, dtype=np.float64)
    starts = _stretch_starts(tuple(sizes[name] for name in names))
    largest = np.maximum.reduceat(np.abs(old), starts).tolist() if names else []
    changes = np.maximum.reduceat(np.abs(new - old), starts).tolist() if names else []
    worst = 0.0
    for name, entry, change in zip(names, largest, changes):
        size = max(entry, scales.get(name, 0.0))
        if change > 0.0:
            worst = max(worst, change / size if size > 0.0 else np.inf)
    return worst


class _Run:
    """The bookkeeping of one EM run: passes, accepted values, the stopping rule."""

    def __init__(
        self, model, source, tol, max_iter, callback, on_pass, passes_done, pairs=0,
        jumped=False, slowest=0.0,
    ):
        self.model = model
        self.source = source
        self.tol = tol
        self.max_iter = max_iter
        self.callback = callback
        self.on_pass = on_pass
        self.dtype = model._dtype
        self.eps = float(np.finfo(self.dtype).eps)  # of the data's dtype
        self.n_passes = passes_done
        self.lower_bounds = []
        self.chain = []  # log-likelihoods of consecutive EM points, ending at the last pass
        self.best = None  # (log-likelihood, pass, parameters at which it was evaluated)
        # How far the passes since the best one may fall below it because the
        # M-step is regularised (the sum of their allowances), and the
        # parameters of the last accepted pass, from which the next one's
        # M-step was taken.
        self.slack = 0.0
        self.previous = None
        # the pass of a start outside the M-step's image (see accept), or None; a run
        # that continues another (a float32 run finished in float64) starts from that
        # run's M-step output, rounded to float32, which the float64 test would misjudge
        self.outside_start = None
        self.continued = passes_done > 0
        self.decrease = ()
        self.converged = False
        self.stopped = False
        self.stats = None
        self.remaining_gain = np.inf
        # consecutive triples of EM values on which the stopping rule has
        # held so far (it must hold on ``required`` of them)
        self.holding = 0
        # the rule holds, but the ratio's steadiness needs more values to be seen
        # through rounding (see _steady_ratio)
        self.settling = False
        # whether fast directions were excited (an extrapolation, or a start rounded to a
        # coarser dtype: see run_em's rounded_start), so that more triples must hold
        self.jumped = jumped
        # the largest decrease between consecutive EM values seen so far:
        # exact EM never decreases, so it measures the rounding noise
        self.noise = 0.0
        # the largest ratio of consecutive increments measured near the peak
        # (see _SLOWEST_NEAR), by this run or the one it continues; whether the
        # chain starts at an extrapolated point
        self.slowest = slowest
        self.from_trial = False
        # (point, EM image) of the last passes, in unconstrained coordinates,
        # for Anderson steps (kept only when ``pairs`` > 0)
        self.pairs = collections.deque(maxlen=pairs) if pairs else None
        self.finite_image = None  # the image of the last pair: finite (read-only)

    @property
    def required(self):
        """Triples of EM values on which the stopping rule must hold: more once a jump
        (an extrapolation) has excited fast directions that can hide a slow one."""
        return _CONFIRMATIONS if self.jumped else 1

    @property
    def confirming(self):
        """The stopping rule held on the last triple, but not yet on enough of them."""
        return 0 < self.holding and (self.holding < self.required or self.settling)

    def resolution(self, lower_bound):
        """The size below which an increment of the log-likelihood is rounding, not a gain.

        The log-likelihood is a float64 sum whose order differs between data
        sources (chunks, Dask partitions): a few hundred float64 units of its
        size. Per-point log-densities are computed in the data's dtype; in
        float32 their rounding can make consecutive EM values go up and down
        near the peak. The largest decrease measured between consecutive EM
        values (up to ``_NOISE_UNITS`` units of the dtype's rounding, beyond
        which a decrease is not rounding) raises the resolution to it.
        """
        return max(self.float64_resolution(lower_bound), self.measured_noise(lower_bound))

    def measured_noise(self, lower_bound):
        """The largest decrease measured between consecutive EM values, up to
        ``_NOISE_UNITS`` units of the data dtype's rounding of the log-likelihood's size."""
        cap = _NOISE_UNITS * self.eps * (1.0 + abs(lower_bound))
        return min(self.noise, cap)

    def gain_estimate(self, resolution):
        """Aitken's estimate of the gain still to come, from the last three EM values,
        with a ratio of increments at least the slowest measured near the peak.

        The ratio of EM's increments tends to the largest eigenvalue of its
        rate matrix at the peak. An extrapolation can leave the slow direction
        behind it and excite fast ones, whose decay then shows a smaller
        ratio for tens of passes: a fit on a ridge stopped 3,900 tol short
        with increments shrinking by 0.91 after a jump, where they had shrunk
        by 0.994 before it. So once a ratio has been measured on three plain
        EM values near the peak (Aitken's estimate below ``_SLOWEST_NEAR``
        times ``tol``, the last increment ``_SLOWEST_ABOVE`` times the
        resolution, where rounding moves the ratio by under 1%), no later
        estimate assumes a faster one. Nor does a loss beyond rounding (the
        regularised M-step) read as no gain left: Aitken's estimate of the
        loss still to come bounds the estimate, and once such a ratio is
        known the loss bounds it as a gain of its size does. After a jump on
        a ridge, three losses of 1.5e-9 stopped a fit 221,000 tol short, where
        plain EM then climbed for 4,000 passes; with missing values, losses of
        8e-6 per pass as a covariance collapsed towards ``reg_covar``, before
        any ratio was measured, stopped one 2,537 tol short.
        """
        l0, l1, l2 = self.chain[-3:]
        gain = aitken_remaining_gain(l0, l1, l2, resolution)
        d1, d2 = l1 - l0, l2 - l1
        plain = not (self.from_trial and len(self.chain) == 3)
        if plain and _SLOWEST_ABOVE * resolution < d2 < d1 and gain < _SLOWEST_NEAR * self.tol:
            self.slowest = max(self.slowest, d2 / d1)
        if d2 < -resolution:
            # a loss beyond rounding: what is still to lose, as Aitken's estimates it
            # from two shrinking losses; a loss after a gain, itself; growing losses,
            # what they would lose, never shrinking, in the passes left
            gain = -d2
            if d1 < -resolution:
                gain = aitken_remaining_gain(-l0, -l1, -l2, resolution)
                if gain == np.inf:
                    gain = -d2 * max(1, self.max_iter - self.n_passes)
        if self.slowest > 0.0 and (gain > 0.0 or d2 < -resolution):
            gain = max(gain, abs(d2) / (1.0 - self.slowest))
        return gain

    def ratio_noise(self, lower_bound):
        """How far rounding can move one increment of the log-likelihood.

        :meth:`measured_noise`, and at least ``_RATIO_NOISE_UNITS`` float64
        units of the log-likelihood's size. Far below :meth:`resolution`,
        which says whether an increment is a gain at all: a ratio of
        increments a few hundred times that size is known to a few parts in
        a thousand, finely enough to see it climb.
        """
        floor = _RATIO_NOISE_UNITS * _FLOAT64_EPS * (1.0 + abs(lower_bound))
        return max(self.measured_noise(lower_bound), floor)

    def float64_resolution(self, lower_bound):
        """The rounding of the log-likelihood's float64 sums, but at most a hundredth of ``tol``.

        Plain EM asked for a ``tol`` below this rounding goes on while its
        increments, summed in one order, still show a gain.
        """
        return min(_RESOLUTION * (1.0 + abs(lower_bound)), 0.01 * self.tol)

    @property
    def done(self):
        return (
            self.converged or self.stopped or bool(self.decrease)
            or self.n_passes >= self.max_iter
        )

    def evaluate(self, *, trial=False):
        """One pass at the model's parameters: returns its log-likelihood, then the M-step.

        With ``trial`` (an extrapolated point), a point that is not a valid
        model returns None and leaves the model's parameters undefined; the
        caller restores them.
        """
        model = self.model
        self.n_passes += 1
        try:
            with np.errstate(all="ignore") if trial else contextlib.nullcontext():
                stats = model._summarize(self.source)
        except (ValueError, FloatingPointError):
            if trial:
                return None
            raise
        lower_bound = stats.mean_log_likelihood  # a Python float
        if not math.isfinite(lower_bound):
            if trial:
                return None
            raise FloatingPointError(
                f"The {model._objective} became {lower_bound} at iteration {self.n_passes}. "
                "Some points have zero density under every component; scale the "
                f"input data, or increase {model._regularization_name}."
            )
        if (self.best is None and not trial and not self.continued
                and not model._in_m_step_image(stats)):
            self.outside_start = self.n_passes
        before = model._get_parameters()
        try:
            model.m_step(stats)
        except ValueError:
            if trial:
                return None
            raise
        model._pass_checks_on(before, self.source.n_features)
        if self.pairs is not None:
            point = model._unconstrained(before)
            image = model._unconstrained(model._get_parameters())
            # the point of a plain pass is the image of the pass before, tested there
            if (point is self.finite_image or np.isfinite(point).all()) and np.isfinite(image).all():
                self.pairs.append((point, image))
                self.finite_image = image
        # a Python float, as the record of the fit (lower_bound_, lower_bounds_) holds it
        # and as a model file gives it back (a family's hook may give a NumPy scalar)
        return float(model._lower_bound(stats, before)), before, stats

    def accept(self, lower_bound, before, stats, *, extends_chain, trial=None):
        """Record an accepted pass; run the stopping rule; call the callback.

        ``extends_chain``: the pass is at the M-step of the last accepted
        one (plain EM). Otherwise it is the EM image of an extrapolation,
        already judged against the last accepted value, and ``trial`` is
        the log-likelihood at the extrapolated point: the two are the first
        values of a new chain of consecutive EM points.
        """
        self.lower_bounds.append(lower_bound)
        after = self.model._get_parameters()
        if extends_chain:
            self.chain.append(lower_bound)
        else:
            self.chain = [lower_bound] if trial is None else [trial, lower_bound]
            self.from_trial = trial is not None
            self.jumped = True
        if self.best is not None:
            best, best_pass, best_parameters = self.best
            if extends_chain:
                self.slack += self.model._m_step_allowance(self.previous, before, after)
            if best_pass == self.outside_start:
                # The start lay outside the M-step's image (a scale below its floor:
                # a user's, or one fitted under another floor), where the likelihood
                # can exceed anything EM reaches from it: no point to keep, nor to
                # measure falls or rounding from. The run starts afresh here.
                self.best, self.chain = None, [lower_bound]
            elif lower_bound < best - rounding_margin(best, self.dtype) - self.slack:
                # A fault (rounding beyond the dtype's margin, a cancelled
                # statistic) made EM go down: keep the best point.
                self.decrease = (best_pass, best, self.n_passes, lower_bound)
                self.model._set_parameters(best_parameters)
                self.lower_bounds.pop()
                return
        self.stats = stats
        self.previous = before
        if self.best is None or lower_bound >= self.best[0]:
            self.best = (lower_bound, self.n_passes, before)
            self.slack = 0.0
        if extends_chain and len(self.chain) >= 2:
            # two M-step outputs: a fall between them is rounding; the fall
            # from an extrapolated point to its image is not
            self.noise = max(self.noise, self.chain[-2] - self.chain[-1])
        if len(self.chain) >= 3:
            resolution = self.resolution(lower_bound)
            gain = self.remaining_gain = self.gain_estimate(resolution)
            holds = gain < self.tol and _relative_change(self.model, before, after) < np.sqrt(self.tol)
            steady = True
            if holds and self.holding:
                steady = _steady_ratio(
                    self.chain[-_STEADY_SPAN:], resolution, self.ratio_noise(lower_bound)
                )
                holds = steady is not False
            self.holding = self.holding + 1 if holds else 0
            self.settling = steady is None
            self.converged = self.holding >= self.required and not self.settling
        else:
            self.holding = 0
        self.on_pass(self.n_passes, lower_bound)
        if self.callback is not None:
            # True as NumPy computes it too: a comparison of floats from the model's arrays
            stop = self.callback(self.model, self.n_passes, lower_bound)
            self.stopped = isinstance(stop, (bool, np.bool_)) and bool(stop)

    def result(self):
        lower_bounds = self.lower_bounds
        if self.decrease:
            # The model holds the parameters of the best pass: its trace ends there,
            # so that lower_bounds_[-1] is lower_bound_, as a model file requires.
            best = self.decrease[1]
            lower_bounds = lower_bounds[: len(lower_bounds) - lower_bounds[::-1].index(best)]
        return EMResult(
            self.model._get_parameters(),
            self.n_passes,
            lower_bounds[-1] if lower_bounds else -np.inf,
            lower_bounds,
            self.converged,
            self.stopped,
            self.decrease,
            self.stats,
            self.remaining_gain,
            self.converged and self.noise > self.float64_resolution(self.lower_bounds[-1]),
            self.slowest,
        )


def run_em(
    model, source, *, tol, max_iter, accelerate, callback=None, on_pass=None, passes_done=0,
    rounded_start=False, slowest=0.0,
):
    """Iterate EM on ``model`` (already started) until the stopping rule holds.

    Parameters
    ----------
    model : BaseMixture
        The working estimator, holding the starting parameters; its
        parameters are updated in place. Pass a copy to keep the original.
    source : data source (:mod:`fastem.data`)
    tol : float
        Stop when Aitken's estimate of the remaining gain of the mean
        log-likelihood per sample is below ``tol`` and the last step's
        relative parameter change is below ``sqrt(tol)`` (see the module
        docstring).
    max_iter : int
        At most this many passes over the data.
    accelerate : bool
        SQUAREM (see the module docstring) if True, plain EM otherwise.
    callback : callable, optional
        ``callback(model, n_iter, lower_bound)`` after each accepted pass;
        returning True (Python's or NumPy's) stops the run.
    on_pass : callable, optional
        ``on_pass(n_iter, lower_bound)`` after each accepted pass (progress output).
    passes_done : int, default=0
        Passes of an earlier run that this one continues: they count
        towards ``max_iter`` and number the passes.
    rounded_start : bool, default=False
        The starting parameters are rounded to a coarser dtype than the run
        computes in: a float32 run finished in float64, a float32 model
        continued on float64 data. The rounding excites fast directions as an
        extrapolation does, and their decay can hide a slow one from the
        first triple of values (a float32 fit on a ridge stopped 222,000 tol
        short that way; three components on two clusters up to 2.8e-4 per
        sample short): the rule must hold on ``_CONFIRMATIONS`` triples.
    slowest : float, default=0.0
        The slowest ratio of increments that the run continued here measured
        near the peak (``EMResult.slowest``): Aitken's estimate never assumes
        a faster one.

    Returns
    -------
    EMResult

    Raises
    ------
    FloatingPointError
        The log-likelihood of a plain EM pass is not finite.
    ValueError
        The M-step of a plain EM pass fails (e.g. an ill-defined covariance).
    """
    run = _Run(
        model, source, tol, max_iter, callback, on_pass or (lambda *args: None), passes_done,
        pairs=_ANDERSON_MEMORY + 1 if accelerate else 0, jumped=rounded_start, slowest=slowest,
    )
    if accelerate:
        _squarem(run)
    else:
        _plain_em(run)
    return run.result()


def _plain_em(run):
    """Plain EM passes until the run is done; a cycle of EM's map in floating point ends it,
    converged where its log-likelihoods span less than ``tol``, or, with ``tol`` above 0,
    where they are computed in a dtype coarser than float64 (see the module docstring)."""
    starts = {}  # digest of the parameters a pass started from: the number of values before
    state = _digest(run.model)
    while not run.done:
        starts[state] = len(run.lower_bounds)
        run.accept(*run.evaluate(), extends_chain=True)
        state = _digest(run.model)
        if state in starts and not (run.decrease or run.stopped):
            span = float(np.ptp(run.lower_bounds[starts[state]:]))
            # tol=0 asks for max_iter passes: no cycle ends such a run
            coarse = run.dtype != np.float64 and run.tol > 0
            if span >= run.tol and coarse:
                # Exact EM never comes back to where it was: the span is rounding of the
                # float32 log-densities, which a float64 finish resolves (see EMResult.unresolved)
                run.noise = max(run.noise, span)
            if span < run.tol or coarse:
                run.converged = True
                return


def _digest(model, *state):
    """A digest of the model's parameters, bitwise, and of ``state`` (numbers, flags)."""
    digest = hashlib.blake2b(repr(state).encode(), digest_size=16)
    for array in model._named_parameters(model._get_parameters()).values():
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.digest()


def _squarem(run):
    model = run.model
    step_max = _STEP_MAX0
    # An accepted extrapolation leaves its EM image evaluated: that pass is
    # the first of the next cycle.
    started = None
    # the states cycles started from: one met again starts a repetition (see the
    # module docstring), and the run goes on with plain EM from it
    cycle_states = set()
    while not run.done:
        state = _digest(model, step_max, started is None)
        if state in cycle_states:
            _plain_em(run)
            return
        cycle_states.add(state)
        if started is None:
            l0, p0, stats = run.evaluate()
            run.accept(l0, p0, stats, extends_chain=True)
            if run.done:
                return
        else:
            l0, p0 = started
            started = None
        l1, p1_before, stats = run.evaluate()
        run.accept(l1, p1_before, stats, extends_chain=True)
        if run.done:
            return
        if run.confirming or run.n_passes + 2 > run.max_iter:
            # the stopping rule is being confirmed on plain EM passes, or
            # there is no budget to judge an extrapolation: go on with plain EM
            continue
        p2 = model._get_parameters()
        theta0 = model._unconstrained(p0)
        theta1 = model._unconstrained(p1_before)
        theta2 = model._unconstrained(p2)
        # Parameters far apart (a collapsing component) overflow here: judged just below.
        with np.errstate(over="ignore", invalid="ignore"):
            r = theta1 - theta0
            v = theta2 - 2.0 * theta1 + theta0
            sr2 = float(r @ r)
            sv2 = float(v @ v)
        if not (sv2 > 0.0 and np.isfinite(sr2) and np.isfinite(sv2)):
            continue  # at a fixed point, or nothing to extrapolate: go on from p2
        alpha = min(step_max, max(1.0, np.sqrt(sr2 / sv2)))
        if alpha == 1.0:  # the extrapolated point is p2 itself: go on from there
            if alpha == step_max:
                step_max *= _STEP_FACTOR
            continue
        judged = _judge_extrapolation(run, theta0 + 2.0 * alpha * r + alpha * alpha * v, l1)
        if judged is not None:
            trial_bound, image = judged
            run.accept(*image, extends_chain=False, trial=trial_bound)
            started = image[:2]
            if alpha == step_max:
                step_max *= _STEP_FACTOR
            if len(run.pairs) == run.pairs.maxlen and _anderson_steps(run):
                # The next cycle starts with two EM passes from the last
                # Anderson point: three consecutive EM values for the stopping rule.
                started = None
        else:
            model._set_parameters(p2)
            if alpha == step_max:
                step_max = max(_STEP_MAX0, step_max / _STEP_FACTOR)


def _judge_extrapolation(run, theta, floor):
    """Evaluate the extrapolated point ``theta`` and its EM image; None if rejected.

    The extrapolated point itself can lie outside the set of parameters that
    an M-step can produce (a scale below the family's floor, a covariance
    below ``reg_covar``), where the log-likelihood can exceed anything EM
    reaches: it is never accepted, and its log-likelihood, which may be
    lower than that of its image, decides nothing. One pass at it gives its
    EM image ``F(theta)``, an M-step output; a second pass evaluates the
    image, which is accepted only if its log-likelihood is at least
    ``floor``. Returns the log-likelihood at ``theta`` and that second
    pass's ``(log-likelihood, parameters, stats)``, with the model at the
    image's own EM step; or None, with the model's parameters undefined.
    """
    model = run.model
    try:
        with np.errstate(all="ignore"):
            model._set_unconstrained(theta)
    except ValueError:
        return None
    trial = run.evaluate(trial=True)
    if trial is None:
        return None
    image = run.evaluate(trial=True)
    if image is None or not image[0] >= floor:
        return None
    return trial[0], image


def _anderson_steps(run):
    """Anderson steps from the last passes' pairs while each is accepted and gains more than tol.

    Each step is one pass, at the point :func:`anderson_point` gives. It is
    accepted if that point is one an M-step can produce (the family's
    ``_in_m_step_image``) and its log-likelihood is at least the best
    accepted so far; otherwise the model returns to the M-step of the last
    accepted pass, and the steps end. Returns the number of accepted steps.
    """
    model = run.model
    accepted = 0
    # the last pass of the budget goes to plain EM, which never wastes it
    while not run.done and run.n_passes + 1 < run.max_iter:
        em_step = model._get_parameters()
        try:
            with np.errstate(all="ignore"):
                model._set_unconstrained(anderson_point(*zip(*run.pairs)))
            trial = run.evaluate(trial=True) if model._in_m_step_image(run.stats) else None
        except (ValueError, np.linalg.LinAlgError):
            trial = None
        if trial is None or not trial[0] >= run.best[0]:
            model._set_parameters(em_step)
            return accepted
        gain = trial[0] - run.lower_bounds[-1]
        run.accept(*trial, extends_chain=False)
        accepted += 1
        if gain <= run.tol:
            break
    return accepted
