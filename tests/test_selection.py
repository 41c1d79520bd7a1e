"""select_n_components: grid search by BIC/AIC that is not fooled by collapsed fits."""

import re
import warnings
from unittest import mock

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import fastem
from fastem import ConvergenceWarning
from fastem.selection import collapsed_components

TYPES = ("spherical", "diag", "tied", "full")


def three_full_clusters(seed=0, n=600):
    rng = np.random.default_rng(seed)
    covariances = [
        [[1.0, 0.8], [0.8, 1.0]],
        [[1.0, -0.7], [-0.7, 0.8]],
        [[0.3, 0.0], [0.0, 2.0]],
    ]
    centers = [[0.0, 0.0], [6.0, 0.0], [3.0, 6.0]]
    return np.vstack([rng.multivariate_normal(c, s, n) for c, s in zip(centers, covariances)])


def rounded_two_clusters(seed=9, n=300):
    """Two correlated clusters whose second feature is rounded to integers.

    The second feature keeps only about five distinct values, so components can
    lie down on one value each and gain about 7 nats per point.
    """
    rng = np.random.default_rng(seed)
    near = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.2], [0.2, 0.3]], n)
    far = rng.multivariate_normal([5.0, 0.5], [[1.0, -0.2], [-0.2, 0.3]], n)
    X = np.vstack([near, far])
    X[:, 1] = np.round(X[:, 1])
    return X


def smallest_variance(model):
    cov = model.covariances_
    if model.covariance_type in ("full", "tied"):
        return np.linalg.eigvalsh(cov).min()
    return cov.min()


def test_picks_true_model():
    X = three_full_clusters()
    result = fastem.select_n_components(X, range(1, 6), TYPES, random_state=0)
    assert result.best_params_ == ("full", 3)
    assert result.criterion == "bic"
    assert result.best_model_.n_components == 3 and result.best_model_.covariance_type == "full"
    assert result.best_score_ == result.table[("full", 3)] == result.best_model_.bic(X)
    assert not any(result.flags.values())
    # table as a dict and as an array
    table = result.table.as_dict()
    assert set(table) == {(t, k) for t in TYPES for k in range(1, 6)}
    assert min(table, key=table.get) == ("full", 3)
    array = result.table.as_array()
    assert array.shape == (4, 5)
    assert array[3, 2] == table[("full", 3)] == array.min()
    assert dict(result.table) == table and len(result.table) == 20


def test_sklearn_is_fooled_by_rounding_and_we_are_not():
    X = rounded_two_clusters()
    # scikit-learn's own BIC search lands on a fit with a collapsed component.
    fits = {}
    for ct in TYPES:
        for k in range(1, 7):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SkConvergenceWarning)
                fits[(ct, k)] = SkGaussianMixture(k, covariance_type=ct, random_state=0).fit(X)
    sk_best = min(fits, key=lambda key: fits[key].bic(X))
    assert smallest_variance(fits[sk_best]) < 10 * 1e-6
    assert fits[sk_best].bic(X) < fits[("full", 2)].bic(X) - 1000  # by a wide margin

    # From k-means++ starts; from the default hierarchical start this rounded
    # grid ends at tied K=4, not flagged (under study).
    result = fastem.select_n_components(X, range(1, 7), TYPES, random_state=0, init_params="k-means++")
    assert result.best_params_ == ("full", 2)
    assert smallest_variance(result.best_model_) > 0.1
    singular = [key for key, flag in result.flags.items() if flag.startswith("singular")]
    assert singular  # our grid collapses as well ...
    assert min(result.table.values()) < result.best_score_  # ... and would win without the flags
    for key in singular:
        assert collapsed_components(result.models_[key], X)
    nan_masked = result.table.as_array(include_flagged=False)
    assert np.nanmin(nan_masked) == result.best_score_
    assert np.isnan(nan_masked).sum() == len(singular)
    text = str(result.table)
    assert text.count("S") - text.count("S singular") == len(singular)


def test_collapse_rules():
    X = rounded_two_clusters()
    # A fit that is not collapsed: from k-means++, since the default hierarchical
    # partition of these rounded data holds a cluster on one rounded value.
    model = fastem.GaussianMixture(
        2, covariance_type="full", init_params="k-means++", random_state=0
    ).fit(X)
    assert collapsed_components(model, X) == {}
    # Put component 0 on one value of the rounded feature: rule 1 (reg_covar floor).
    values, counts = np.unique(X[:, 1], return_counts=True)
    on_slice = X[:, 1] == values[np.argmax(counts)]
    # Fitted parameters are read-only snapshots: change them by assigning new arrays.
    means, covariances = model.means_.copy(), model.covariances_.copy()
    means[0] = X[on_slice].mean(axis=0)
    covariances[0] = np.cov(X[on_slice].T, bias=True) + 1e-6 * np.eye(2)
    model._set_gaussian(means, covariances)  # with the precisions that agree
    reasons = collapsed_components(model, X)
    assert list(reasons) == [0] and "floor" in reasons[0]
    # Slightly wider, but still narrower than rounding to integers allows: rule 2.
    covariances[0] = np.diag([1.0, 0.05])
    model._set_gaussian(means, covariances.copy())
    reasons = collapsed_components(model, X)
    assert list(reasons) == [0] and "rounding to steps of 1" in reasons[0]
    # The same component on continuous data is fine.
    continuous = X + np.random.default_rng(0).uniform(-0.5, 0.5, size=X.shape)
    assert collapsed_components(model, continuous) == {}


def test_few_points_rule():
    X = three_full_clusters(n=200)
    # A full component that owns two points in 2-D cannot have a proper covariance.
    X = np.vstack([X, [[50.0, 50.0], [50.5, 51.0]]])
    model = fastem.GaussianMixture(
        4, covariance_type="full", random_state=0,
        means_init=[[0, 0], [6, 0], [3, 6], [50.25, 50.5]],
    ).fit(X)
    reasons = collapsed_components(model, X)
    assert 3 in reasons and "effective points" in reasons[3]


def test_effective_points_just_below_the_need_are_not_shown_as_the_need():
    """A 'full' 1-D component on two points held at 0.99 and 0.94 has 1.9985 effective
    points: the reason says so, not '2.00 effective points, fewer than 2'."""
    X = np.r_[np.random.default_rng(0).normal(size=200), 3.5, 4.0][:, None]
    model = fastem.GaussianMixture(2, means_init=[[0.0], [3.75]], random_state=0).fit(X)
    reasons = collapsed_components(model, X)
    assert list(reasons) == [1]
    shown = float(re.search(r"([0-9.]+) effective points, fewer than 2", reasons[1])[1])
    assert 1.998 < shown < 2


# A blob of 200 points and a group of as many points as each covariance type needs,
# held by their component to within 2.5e-4 each: 2.99999998 and 1.99999999 effective
# points, which were flagged as fewer than 3 and 2.
GROUPS = {
    "full": [[4.6, 0.0], [5.0, 0.6], [5.2, -0.5]],
    "diag": [[4.6, 0.0], [5.1, 0.5]],
    "spherical": [[4.6, 0.0], [5.1, 0.5]],
}


@pytest.mark.parametrize("covariance_type", sorted(GROUPS))
def test_a_component_that_holds_each_of_its_points_rests_on_them_all(covariance_type):
    """Kish's effective size of points held unequally falls short of their number: a
    component that holds the three points that a 2-D 'full' covariance needs (or the two
    of 'diag' and 'spherical') to within 2.5e-4 each has 2.99999998 (1.99999999) of them.
    It is not collapsed, in memory, as Chunks, with sample weights and in the grid."""
    group = np.array(GROUPS[covariance_type])
    X = np.vstack([np.random.default_rng(0).normal(size=(200, 2)), group])
    start = dict(means_init=[[0, 0], group.mean(axis=0)], random_state=0)
    model = fastem.GaussianMixture(2, covariance_type=covariance_type, **start).fit(X)
    held = model.predict_proba(X)[-len(group):, 1]
    assert (held > 1 - 2.5e-4).all() and (held < 1).all()
    weights = np.r_[np.full(200, 2.0), np.ones(len(group))]
    assert collapsed_components(model, X) == {}
    assert collapsed_components(model, fastem.Chunks([X[:150], X[150:]])) == {}
    assert collapsed_components(model, X, weights) == {}
    grid = fastem.select_n_components(X, [2], covariance_type, **start)
    assert grid.flags[(covariance_type, 2)] == ""


def test_collapsed_components_of_the_other_families():
    """An exponential component at the min_scale floor on points that are 0 in a feature
    where the data are not all 0 has collapsed; a Poisson component on zeros has not (its
    likelihood is bounded)."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.exponential(1.0, 400), rng.exponential(1.0, 400)])
    X[:20, 1] = 0.0
    model = fastem.ExponentialMixture(
        2, weights_init=[0.05, 0.95], scales_init=[[1.0, 1e-9], [1.0, 1.0]], max_iter=0,
    ).fit(X)
    reasons = collapsed_components(model, X)
    assert list(reasons) == [0] and "min_scale floor" in reasons[0]
    counts = np.floor(X * 3)
    poisson = fastem.PoissonMixture(
        2, weights_init=[0.05, 0.95], rates_init=[[3.0, 1e-9], [3.0, 3.0]], max_iter=0,
    ).fit(counts)
    assert collapsed_components(poisson, counts) == {}


def test_the_grid_reads_the_data_for_the_collapse_rules_once():
    """The data's mean, covariance (with the variances, its diagonal) and resolution, which
    the flags of every fit of the grid read, are computed once for the grid: two passes and
    a subsample."""
    from fastem import _collapse

    X = three_full_clusters(n=100)
    moments = _collapse._data_second_moments
    with mock.patch.object(_collapse, "_data_second_moments", wraps=moments) as cov, \
            mock.patch.object(_collapse, "_feature_means", wraps=_collapse._feature_means) as mean, \
            mock.patch.object(_collapse, "_resolution", wraps=_collapse._resolution) as res:
        fastem.select_n_components(X, range(1, 4), n_init=2, random_state=0)
    assert cov.call_count == mean.call_count == res.call_count == 1


def test_weighted_selection_matches_repeated_rows():
    X = three_full_clusters(n=150)
    counts = np.random.default_rng(1).integers(1, 4, size=len(X))
    kwargs = dict(n_components=[2, 3, 4], covariance_types=("diag", "full"), random_state=0)
    weighted = fastem.select_n_components(X, sample_weight=counts, **kwargs)
    repeated = fastem.select_n_components(np.repeat(X, counts, axis=0), **kwargs)
    assert weighted.best_params_ == repeated.best_params_
    for key, value in weighted.table.items():
        model = weighted.models_[key]
        assert value == pytest.approx(model.bic(X, sample_weight=counts))
        assert value == pytest.approx(model.bic(np.repeat(X, counts, axis=0)))


def test_two_weighted_points_count_as_the_rows_they_stand_for():
    """A 'diag' component on two points of weights 2 and 3 rests on two points, as on the
    five rows they stand for: it is not flagged, and the grid chooses as on those rows.
    Kish's weighted effective size (1.92 points, fewer than 2) flagged it, and the grid
    chose K=1 at a BIC of 537.0 over K=2 at 408.5."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (60, 2)), [[6.0, 6.0], [6.5, 5.0]]])
    weights = np.r_[np.ones(60), 2.0, 3.0]
    repeated = np.repeat(X, weights.astype(int), axis=0)
    model = fastem.GaussianMixture(2, covariance_type="diag", random_state=0).fit(
        X, sample_weight=weights)
    assert collapsed_components(model, X, weights) == collapsed_components(model, repeated) == {}
    kwargs = dict(n_components=[1, 2], covariance_types="diag", random_state=0)
    weighted = fastem.select_n_components(X, sample_weight=weights, **kwargs)
    assert weighted.best_params_ == fastem.select_n_components(repeated, **kwargs).best_params_
    assert weighted.best_params_ == ("diag", 2)
    # a point's weight does not make it more than one point
    assert collapsed_components(model, X, weights * 1e6) == {}
    one = np.r_[np.ones(60), 5.0, 0.0]
    assert "1 effective points" in collapsed_components(model, X, one).get(1, "")


@pytest.mark.parametrize("covariance_type, n_far, seed", [("tied", 1, 0), ("spherical", 3, 2)])
def test_a_small_group_as_wide_as_the_others_keeps_its_component(covariance_type, n_far, seed):
    """A far group of one or three points is a component of its own."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(100, 2)) + c for c in ([0, 0], [8, 0], [4, 8])]
                  + [rng.normal(size=(3, 2))[:n_far] + [20, -10]])
    model = fastem.GaussianMixture(4, covariance_type=covariance_type, random_state=seed).fit(X)
    assert (model.predict(X) == model.predict(X[-1:])[0]).sum() == n_far


def test_aic():
    X = three_full_clusters()
    bic = fastem.select_n_components(X, [2, 3, 4], ("full",), random_state=0)
    aic = fastem.select_n_components(X, [2, 3, 4], ("full",), criterion="AIC", random_state=0)
    assert aic.criterion == "aic" and aic.best_params_ == ("full", 3)
    for key, model in aic.models_.items():
        assert aic.table[key] == pytest.approx(model.aic(X))
        assert aic.table[key] < bic.table[key]  # log(1800) > 2: BIC penalises harder
    assert str(aic.table).startswith("AIC (lower is better")


def test_table_prints_aligned():
    X = three_full_clusters()
    result = fastem.select_n_components(X, [1, 2, 3], ("diag", "full"), random_state=0)
    lines = str(result.table).splitlines()
    assert lines[0].startswith("BIC (lower is better")
    assert lines[1].split() == ["K=1", "K=2", "K=3"]
    assert [line.split()[0] for line in lines[2:]] == ["diag", "full"]
    assert len({len(line) for line in lines[1:]}) == 1  # aligned columns
    assert lines[3].split()[3] == f"{result.table[('full', 3)]:.2f}*"
    assert str(result.table) in repr(result)


def test_every_fit_flagged_warns():
    X = rounded_two_clusters()
    X[:, 0] = np.round(X[:, 0])  # both features on a grid: everything collapses
    with pytest.warns(UserWarning, match="Every fit in the grid was flagged"):
        result = fastem.select_n_components(X, [6], ("diag",), random_state=0)
    assert result.best_params_ is None and result.best_model_ is None
    assert np.isnan(result.best_score_)


@pytest.mark.parametrize(
    "kwargs,error,message",
    [
        (dict(n_components=5), TypeError, r"sequence of component counts.*range\(1, 10\)"),
        (dict(n_components=[]), ValueError, "n_components is empty"),
        (dict(n_components=[0, 1]), ValueError, "each entry of n_components must be >= 1, got 0"),
        (dict(n_components=[2.5]), TypeError, "must be an integer, got 2.5"),
        (dict(n_components=[2, 2]), ValueError, "repeated entries"),
        (dict(n_components=[1, 2000]), ValueError, "goes up to 2000.*only 1800"),
        (dict(covariance_types=("full", "banana")), ValueError, "got 'banana'"),
        (dict(covariance_types=()), ValueError, "covariance_types is empty"),
        (dict(criterion="likelihood"), ValueError, "'bic' or 'aic', got 'likelihood'"),
        (dict(n_init=0), ValueError, "n_init must be >= 1, got 0"),
        (dict(covariance_type="full"), TypeError, "covariance_type is set by the grid"),
        (dict(n_componets=3), TypeError, "unexpected keyword argument 'n_componets'"),
        (dict(random_state="seed"), ValueError, "random_state must be"),
        (dict(sample_weight=np.ones(3)), ValueError, r"shape \(3,\) but X has 1800"),
        (dict(min_variance_ratio=2.0), ValueError, "min_variance_ratio must be <= 1.0"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    X = three_full_clusters()
    with pytest.raises(error, match=message):
        fastem.select_n_components(X, **{"n_components": [1, 2], **kwargs})


@pytest.mark.parametrize("family, kwargs, message", [
    ("gaussian", dict(reg_covar=-1.0), r"reg_covar must be >= 0.0, got -1.0"),
    ("gaussian", dict(tol=np.nan), r"tol must be a finite number, got nan"),
    ("gaussian", dict(max_iter=-1), r"max_iter must be >= 0, got -1"),
    ("gaussian", dict(verbose_interval=0), r"verbose_interval must be >= 1, got 0"),
    ("gaussian", dict(step_exponent=2.0), r"step_exponent must be <= 1.0, got 2.0"),
    ("gaussian", dict(init_params="kmean"), r"init_params must be one of .*got 'kmean'"),
    ("gaussian", dict(means_init=np.zeros((2, 2))),
     r"means_init must have shape \(n_components, n_features\) = \(1, 2\), got \(2, 2\)"),
    ("gaussian", dict(weights_init=[0.5, 0.5]), r"weights_init must have shape \(1,\)"),
    ("gaussian", dict(precisions_init=-np.ones((1, 2)), means_init=np.zeros((1, 2))),
     r"precisions_init must have shape"),
    ("exponential", dict(min_scale=-1.0), r"min_scale must be > 0.0, got -1.0"),
    ("exponential", dict(scales_init=np.ones((3, 2))), r"scales_init must have shape"),
    ("poisson", dict(min_rate=0.0), r"min_rate must be > 0.0, got 0.0"),
    ("poisson", dict(rates_init=-np.ones((1, 2))), r"rates_init must be finite and positive"),
])
def test_settings_that_no_fit_can_take_raise_before_the_grid(family, kwargs, message):
    """A bad keyword for the estimator is the caller's error, raised with the estimator's
    message: it used to fail every cell alike, and the grid ended in "no best model" with
    advice about components and reg_covar, the cause hidden in result.flags."""
    X = np.round(np.abs(np.random.default_rng(0).normal(3.0, 1.0, (200, 2))))
    with pytest.raises(ValueError, match=message):
        fastem.select_n_components(X, [1], family=family, random_state=0, **kwargs)


def test_a_float32_grid_refuses_a_reg_covar_beyond_float32_before_fitting():
    X = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
    with pytest.raises(ValueError, match=r"reg_covar holds 1e\+39, beyond float32's largest"):
        fastem.select_n_components(X, [1, 2], ("diag",), reg_covar=1e39)


@pytest.mark.parametrize("family, cls, draw", [
    ("exponential", fastem.ExponentialMixture,
     lambda rng: np.vstack([rng.exponential(1.0, (500, 2)), rng.exponential(10.0, (300, 2))])),
    ("poisson", fastem.PoissonMixture,
     lambda rng: np.vstack([rng.poisson(2.0, (400, 3)), rng.poisson(20.0, (300, 3))]).astype(float)),
])
def test_other_families_select_their_number_of_components(family, cls, draw):
    X = draw(np.random.default_rng(0))
    result = fastem.select_n_components(X, range(1, 5), family=family, random_state=0)
    assert result.best_params_ == (family, 2)
    assert result.table.covariance_types == (family,) and str(result.table).count("\n") == 2
    assert all(isinstance(m, cls) for m in result.models_.values())
    direct = cls(2, random_state=0).fit(X)  # the grid's fit is the estimator's own
    assert_array_equal(direct.weights_, result.best_model_.weights_)
    assert result.best_score_ == direct.bic(X)


def test_an_exponential_component_on_zeros_is_flagged_singular():
    """Points that are all 0 in a feature give a component whose scale falls to the
    min_scale floor, and a likelihood that grows without it: a spurious peak, which
    BIC prefers (K=4 here, where every start collapses; at K=3 the start ranks one
    without the collapse first), flagged as the Gaussian collapse is."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.exponential(1.0, (500, 2)), rng.exponential(10.0, (300, 2))])
    X[:40, 0] = 0.0
    result = fastem.select_n_components(X, range(1, 5), family="exponential", random_state=0)
    assert re.match(r"singular: component \d: scale 4\.5e-06 of feature 0 at the min_scale floor",
                    result.flags[("exponential", 4)])
    assert not result.flags[("exponential", 3)]
    assert result.table[("exponential", 4)] < result.table[("exponential", 2)]
    assert result.best_params_ == ("exponential", 2)
    # the same zeros in counts: a Poisson component on them has a bounded likelihood
    counts = np.round(X * 3)
    flags = fastem.select_n_components(counts, range(1, 4), family="poisson", random_state=0).flags
    assert not any(flags.values())


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(family="gamma"), ValueError, r"family must be one of \['exponential', 'gaussian', "
                                       r"'poisson'\], got 'gamma'"),
    (dict(family="poisson", covariance_types="full"), ValueError,
     "covariance_types applies to family='gaussian' only"),
    (dict(family="poisson", reg_covar=1e-3), TypeError,
     "unexpected keyword argument 'reg_covar'. Extra keywords go to PoissonMixture: min_rate"),
])
def test_bad_family_arguments(kwargs, error, message):
    counts = np.random.default_rng(0).poisson(3.0, (50, 2)).astype(float)
    with pytest.raises(error, match=message):
        fastem.select_n_components(counts, [1, 2], **kwargs)


def test_weights_that_sum_to_less_than_the_rows_warn():
    """n in BIC's p log n is the total weight: normalised weights make the penalty 0 and
    the largest model win, with a warning that says so and how to scale them."""
    X = np.random.default_rng(0).normal(size=(500, 2))  # one Gaussian
    with pytest.warns(UserWarning, match=r"sample_weight sums to 1 over 500 rows.*p log n, 0.00 "
                                         r"per parameter.*w \* 500 / w.sum\(\)"):
        fastem.select_n_components(X, [1, 2], ("full",), sample_weight=np.full(500, 1 / 500),
                                   random_state=0)
    # counts: no warning (the suite turns warnings into errors)
    fastem.select_n_components(X, [1, 2], ("full",), sample_weight=np.full(500, 2.0),
                               random_state=0)


def test_bad_data():
    with pytest.raises(ValueError, match="2-D array"):
        fastem.select_n_components(np.arange(10.0))
    with pytest.raises(ValueError, match="NaN or infinite"):
        fastem.select_n_components(np.array([[0.0], [np.nan]]))


def test_gmm_kwargs_are_passed_on():
    X = three_full_clusters()
    result = fastem.select_n_components(
        X, [3], ("full",), random_state=0, reg_covar=1e-3, tol=1e-6, max_iter=500
    )
    model = result.best_model_
    assert model.reg_covar == 1e-3 and model.tol == 1e-6 and model.converged_
    assert result.converged == {("full", 3): True}


def test_unconverged_chosen_fit_warns_once():
    X = three_full_clusters()
    with pytest.warns(ConvergenceWarning, match=r"the chosen fit \('full', \d\) did not converge") as record:
        result = fastem.select_n_components(X, [2, 3], ("full",), random_state=0, max_iter=1)
    assert len(record) == 1
    assert result.converged == {("full", 2): False, ("full", 3): False}


def test_unconverged_fit_that_cannot_win_is_reported_not_warned():
    # K=3 converges in 7 passes; K=6, one component more than the data hold
    # twice over, crawls for ~260. At pass 50 its BIC is ~118 above K=3's,
    # far more than it is still gaining: it cannot change the choice.
    X = three_full_clusters()
    result = fastem.select_n_components(X, [3, 6], ("full",), random_state=0, max_iter=50)
    assert result.best_params_ == ("full", 3)
    assert result.converged == {("full", 3): True, ("full", 6): False}
    row = str(result.table).splitlines()[2].split()
    assert row[1].endswith("*") and row[2].endswith("~")  # K=3 best; K=6 not converged
    # the same model fitted directly still warns: it has not converged
    with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=50"):
        fastem.GaussianMixture(6, covariance_type="full", random_state=0, max_iter=50).fit(X)


class _StoppedFit:
    """What the rule reads of a fit: its lower bounds per pass and Aitken's estimate."""

    def __init__(self, lower_bounds, remaining_gain):
        self.lower_bounds_ = lower_bounds
        self._remaining_gain = remaining_gain


def _run_of(kind, n_passes=64):
    """The lower bounds of a stopped fit, by how its gains were falling."""
    k = np.arange(1, n_passes + 1)
    return list({
        "settled": -1.0 - 1e-9 * 0.5**k,  # nothing left to gain
        "crawling": -1.0 - 0.64 / k,  # 1/k: 0.01 still to gain after pass 64
        "settling": -1.0 - 50.0 * 0.85**k,  # fast at first, 1.5e-3 left after pass 64
        "steady": -2.0 + 1e-3 * k,  # not slowing down
        "short": -1.0 - 0.64 / k[:5],  # too few passes to tell
    }[kind])


@pytest.mark.parametrize("kind,gap", [("crawling", 0.01), ("settling", 50.0 * 0.85**64)])
def test_possible_gain_of_a_stopped_fit_follows_how_its_gains_were_falling(kind, gap):
    from fastem.selection import _possible_gain

    estimate = _possible_gain(_StoppedFit(_run_of(kind), 0.0))
    # exact for the power law up to the windows' rounding to whole passes; an
    # upper bound for a geometric tail, of its order
    assert gap <= estimate * 1.05 and estimate <= (1.1 if kind == "crawling" else 3.0) * gap
    assert _possible_gain(_StoppedFit(_run_of("settled"), 0.0)) == 0.0  # below rounding
    steady = _run_of("steady")  # not shrinking: the gain over the second half of the run
    assert _possible_gain(_StoppedFit(steady, 0.0)) == pytest.approx(steady[-1] - steady[32])
    assert _possible_gain(_StoppedFit(_run_of("short"), 0.0)) == np.inf


@pytest.mark.parametrize(
    "rival_value,remaining_gain,run,warns",
    [
        (110.0, 1e-3, "settled", False),  # 2 * 1000 * 1e-3 = 2 < 10 above the best: cannot win
        (110.0, 1e-2, "settled", True),  # by Aitken's estimate it could fall 20 < 10 below
        (110.0, 1e-4, "crawling", True),  # Aitken low, but its gains fall like 1/k^2: 20 more
        (110.0, 1e-4, "settling", False),  # large gains at first, but 3 at most to come
        (110.0, 1e-4, "steady", True),  # not slowing down: 2 * 1000 * 0.032 = 64 to come
        # no Aitken estimate (the last increments did not shrink, as after a
        # jump): how its gains were falling decides
        (110.0, np.inf, "settled", False),
        (110.0, np.inf, "steady", True),
    ],
)
def test_unconverged_rival_warns_when_it_could_change_the_choice(
    rival_value, remaining_gain, run, warns
):
    from fastem.selection import _warn_unconverged

    best, rival = ("full", 2), ("full", 4)
    models = {
        best: _StoppedFit([-2.0, -1.5, -1.5], 0.0),
        rival: _StoppedFit(_run_of(run), remaining_gain),
    }
    values = {best: 100.0, rival: rival_value}
    flags = {best: "", rival: ""}
    converged = {best: True, rival: False}
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        _warn_unconverged(best, values, flags, converged, models, total_weight=1000.0)
    assert len(record) == int(warns)
    if warns:
        assert issubclass(record[0].category, ConvergenceWarning)
        assert "[('full', 4)] did not converge" in str(record[0].message)
        assert "chosen fit is ('full', 2)" in str(record[0].message)
    # a flagged rival is out of the choice whatever it could gain
    flags[rival] = "singular: component 0: collapsed"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _warn_unconverged(best, values, flags, converged, models, total_weight=1000.0)


def clusters_with_codes(seed=3, n=400):
    """Two clusters in two measured features, plus three discrete columns.

    An indicator that follows the cluster (5% and 95% ones), a rare indicator
    (5% ones, as the Boston housing data's river dummy has 7%) and a
    three-level code.
    """
    rng = np.random.default_rng(seed)
    near = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.3], [0.3, 1.0]], n)
    far = rng.multivariate_normal([6.0, 3.0], [[1.0, -0.3], [-0.3, 0.5]], n)
    follows = np.concatenate([rng.random(n) < 0.05, rng.random(n) < 0.95])
    rare = rng.random(2 * n) < 0.05
    code = rng.choice(3, size=2 * n, p=[0.6, 0.3, 0.1])
    return np.column_stack([np.vstack([near, far]), follows, rare, code]).astype(np.float64)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_discrete_columns_do_not_flag_real_components(covariance_type):
    # Components that lie mostly on one value of an indicator are what mixtures
    # of such tables look like; the rounding rule is for rounded measurements.
    X = clusters_with_codes()
    truth = np.repeat([0, 1], len(X) // 2)
    for k in (1, 2):
        start = np.array([X[truth == c].mean(axis=0) for c in range(k)])
        model = fastem.GaussianMixture(k, covariance_type=covariance_type, means_init=start).fit(X)
        if k == 2:  # the fit found the two clusters, each mostly on one value of the indicator
            assert np.mean(model.predict(X) == truth) > 0.97
            variance = np.diagonal(model._float64_covariances(), axis1=1, axis2=2)
            if covariance_type != "spherical":  # one variance for all features
                assert variance[:, 2].min() < 1 / 12
        assert collapsed_components(model, X) == {}
    # The rare indicator's variance over the whole data set is below 1/12:
    # every fit would be flagged if the rounding rule applied to it.
    assert X[:, 3].var() < 1 / 12


def test_clusters_of_a_feature_in_small_units_are_not_flagged():
    """A feature whose spread is of the order of sqrt(reg_covar) (wdbc's fractal dimension,
    standard deviation 0.007) has clusters of a variance of several reg_covar: they are not
    collapsed, in any covariance type. Rule 1's absolute floor at 10 * reg_covar flagged
    them, and select_n_components chose one component where there are two."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    X = np.column_stack([rng.normal(6.0 * labels, 1.0), rng.normal(0.06 + 0.01 * labels, 0.0026)])
    for covariance_type in TYPES:
        model = fastem.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
        assert np.mean(model.predict(X) == labels) in (pytest.approx(1.0, abs=0.02),
                                                        pytest.approx(0.0, abs=0.02))
        assert collapsed_components(model, X) == {}
    with warnings.catch_warnings():  # a K=3 fit splits a cluster: reg_covar swamps its spread
        warnings.simplefilter("ignore", fastem.RegularizationWarning)
        result = fastem.select_n_components(X, range(1, 4), random_state=0)
    assert result.best_params_[1] == 2
    assert not any(result.flags[(ct, 2)] for ct in TYPES)


def test_a_component_exactly_on_one_value_of_an_indicator_is_still_flagged():
    X = clusters_with_codes()
    truth = np.repeat([0, 1], len(X) // 2)
    start = np.array([X[truth == c].mean(axis=0) for c in range(2)])
    model = fastem.GaussianMixture(2, covariance_type="diag", means_init=start).fit(X)
    assert collapsed_components(model, X) == {}
    means, covariances = model.means_.copy(), model.covariances_.copy()
    covariances[0, 2] = model.reg_covar  # the M-step's variance on a single value
    model._set_gaussian(means, covariances)  # with the precisions that agree
    reasons = collapsed_components(model, X)
    assert list(reasons) == [0] and "floor" in reasons[0]


def test_selection_with_an_indicator_column_keeps_the_full_grid():
    X = clusters_with_codes()
    result = fastem.select_n_components(X, range(1, 4), random_state=0)
    assert not any(result.flags[(ct, 1)] for ct in TYPES)
    assert result.best_params_[0] != "spherical"


def test_an_error_of_the_callback_propagates_from_the_grid():
    """A cell whose fit fails is recorded as failed; an error the user's callback raises,
    even a ValueError, is not the cell's failure and propagates (it was recorded as every
    cell failing, and best_params_ None)."""

    class Stop(ValueError):
        pass

    def callback(model, n_iter, lower_bound):
        raise Stop("the callback's own error")

    X = np.random.default_rng(0).normal(size=(200, 2))
    with pytest.raises(Stop, match="the callback's own error"):
        fastem.select_n_components(X, [1, 2], n_init=2, callback=callback)


def _narrow_clusters():
    """Three clusters along feature 0; the third has a spread of 0.0015 in feature 1 (a
    variance of about 2 reg_covar), and feature 2 has less variance than reg_covar over the
    whole data set."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 600)
    return np.column_stack([rng.normal(6.0 * labels, 1.0),
                            rng.normal(0, np.array([1.0, 1.0, 0.0015])[labels]),
                            rng.normal(0, 0.0008, 600)])


def _as_data(X, kind):
    if kind == "chunks":
        return fastem.Chunks([X[: len(X) // 3], X[len(X) // 3 :]])
    if kind == "dask":
        return pytest.importorskip("dask.array").from_array(X, chunks=(len(X) // 3, X.shape[1]))
    return X


def test_warnings_of_fits_that_were_not_chosen_are_kept_not_said():
    """A K=3 fit splits a cluster of a feature in small units, and warns that reg_covar
    swamps the spread of its component: the user never gets that model, and was told of
    it. The fit's warning is kept in result.warnings, as are those of K=3 fits that the
    regularised M-step keeps losing likelihood on at max_iter (their ConvergenceWarning)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    X = np.column_stack([rng.normal(6.0 * labels, 1.0),
                         rng.normal(0.06 + 0.01 * labels, 0.0026)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fastem.select_n_components(X, range(1, 4), random_state=0)
    assert result.best_params_ == ("tied", 2)
    assert [str(w.message) for w in caught] == []
    assert set(result.warnings) == set(result.flags)
    kept = [(key, w) for key, said in result.warnings.items() for w in said]
    assert kept and all(key[1] == 3 for key, _ in kept)
    assert all(isinstance(w, (fastem.RegularizationWarning, ConvergenceWarning)) for _, w in kept)
    assert any(isinstance(w, fastem.RegularizationWarning) and "'s variance in feature 1" in str(w)
               for _, w in kept)


@pytest.mark.parametrize("kind", ["array", "chunks", "dask"])
def test_warnings_of_the_chosen_fit_and_of_the_data_are_said_once(kind):
    """The chosen fit's warning is said once, naming it, whatever other cells said of
    their own models; the data's (reg_covar above feature 2's whole variance, which
    every cell gives) once, not once per cell; from arrays, chunks and Dask alike."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fastem.select_n_components(_as_data(_narrow_clusters(), kind), range(1, 4),
                                            ("diag", "tied"), random_state=0)
    assert result.best_params_ == ("diag", 3)
    said = [str(w.message) for w in caught]
    assert all(issubclass(w.category, fastem.RegularizationWarning) for w in caught)
    assert len(said) == 2, said
    data = [text for text in said if "of the variance of feature(s) 2" in text]
    assert len(data) == 1 and "chosen" not in data[0]
    chosen = [text for text in said if "component 1's variance in feature 1" in text]
    assert len(chosen) == 1
    assert chosen[0].startswith("select_n_components: in the chosen fit ('diag', 3), reg_covar")
    cells = [key for key, kept in result.warnings.items()
             if any("of the variance of feature(s) 2" in str(w) for w in kept)]
    assert len(cells) == 6  # said once for as many cells


def test_warnings_say_where_they_are_raised_what_they_are_of():
    """select_n_components tells a warning of the data from one of a fitted model by a mark
    set where fastem raises it, not by its wording: reg_covar above a feature's whole
    variance is of the data (one key for every cell, whose figures differ), a component's
    narrow variance of its model, and a fit that did not converge is one the grid says in
    its own words."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fastem.GaussianMixture(3, covariance_type="diag", random_state=0,
                               max_iter=2).fit(_narrow_clusters())
    def marks(words):
        found = [w.message for w in caught if words in str(w.message)]
        assert len(found) == 1, [str(w.message) for w in caught]
        return (getattr(found[0], "fastem_of_data", None),
                getattr(found[0], "fastem_restated", False))

    assert marks("of the variance of feature(s) 2") == ("reg_covar swamps a feature", False)
    assert marks("'s variance in feature 1") == (None, False)
    assert marks("did not converge") == (None, True)


def test_select_command_says_the_warnings_of_its_chosen_fit_alone(tmp_path, capsys):
    from fastem.cli import main

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    X = np.column_stack([rng.normal(6.0 * labels, 1.0),
                         rng.normal(0.06 + 0.01 * labels, 0.0026)])
    path = tmp_path / "X.csv"
    np.savetxt(path, X, delimiter=",", header="a,b", comments="")
    assert main(["select", str(path), "--k", "1-3", "--seed", "0"]) == 0
    captured = capsys.readouterr()
    assert "best: covariance_type='tied', n_components=2" in captured.out
    assert "warning" not in captured.err, captured.err
