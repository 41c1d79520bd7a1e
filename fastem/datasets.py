"""Data sets for demonstrations and checks: a synthetic mixture with known parameters, and R's airquality."""

import numbers

import numpy as np

from ._validation import check_memory, check_scalar

__all__ = ["DEMO_WEIGHTS", "DEMO_MEANS", "DEMO_COVARIANCES", "load_airquality", "make_demo_data"]

#: Mixing weights of the demo mixture.
DEMO_WEIGHTS = np.array([0.4, 0.3, 0.2, 0.1])

#: Component means of the demo mixture, shape (4, 2).
DEMO_MEANS = np.array([[0.0, 0.0], [6.0, 4.0], [-5.0, 5.0], [4.0, -5.0]])

#: Full, correlated component covariances of the demo mixture, shape (4, 2, 2).
DEMO_COVARIANCES = np.array(
    [
        [[2.0, 1.2], [1.2, 1.5]],
        [[1.0, -0.6], [-0.6, 2.0]],
        [[1.5, 0.9], [0.9, 0.8]],
        [[0.6, -0.3], [-0.3, 1.8]],
    ]
)


def demo_bytes(n_samples, dtype):
    """Bytes that :func:`make_demo_data` allocates for ``n_samples`` points of ``dtype``: the
    labels (twice), the noise, each point's mean and Cholesky factor, the points and
    their sum, and the points in ``dtype``."""
    return n_samples * (8 + 16 + 16 + 32 + 16 + 16 + 2 * np.dtype(dtype).itemsize + 8)


def make_demo_data(n_samples=1_000_000, random_state=0, dtype=np.float64):
    """Draw a sample from the four-component 2-D Gaussian demo mixture.

    The mixture has the weights :data:`DEMO_WEIGHTS`, means :data:`DEMO_MEANS`
    and full covariances :data:`DEMO_COVARIANCES`; components overlap a little.

    Parameters
    ----------
    n_samples : int >= 0, default=1_000_000
    random_state : int >= 0, numpy.random.Generator or None, default=0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same data.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    labels : ndarray of shape (n_samples,), int64
        The component each point was drawn from.

    Raises
    ------
    TypeError
        For an ``n_samples`` that is not an integer, or a ``random_state`` of
        another type.
    ValueError
        For a negative ``n_samples``, one whose draws exceed the memory, a
        negative seed, or a ``dtype`` other than float32 and float64.
    """
    n_samples = check_scalar(n_samples, "n_samples", numbers.Integral, min_val=0)
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise ValueError(
            f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}: fastem fits "
            "floating-point data in those two."
        )
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        check_scalar(random_state, "random_state", numbers.Integral, min_val=0)
    rng = None
    if not isinstance(random_state, bool):
        try:  # whatever numpy.random.default_rng takes: a SeedSequence, a BitGenerator,
            # a RandomState (the estimators' random_state), a sequence of ints
            rng = np.random.default_rng(random_state)
        except (TypeError, ValueError):
            pass
    if rng is None:
        raise TypeError(
            f"random_state must be an int >= 0, a numpy.random.Generator or None, got "
            f"{random_state!r} of type {type(random_state).__name__}."
        )
    check_memory(demo_bytes(n_samples, dtype), f"n_samples={n_samples:,} demo points", "draw fewer.")
    labels = rng.choice(len(DEMO_WEIGHTS), size=n_samples, p=DEMO_WEIGHTS)
    noise = rng.standard_normal((n_samples, 2))
    factors = np.linalg.cholesky(DEMO_COVARIANCES)
    X = DEMO_MEANS[labels] + np.einsum("nij,nj->ni", factors[labels], noise)
    return X.astype(dtype, copy=False), labels.astype(np.int64)


#: R's ``datasets::airquality``: daily air quality in New York, May to September
#: 1973 (New York State Department of Conservation, ozone; National Weather
#: Service, weather). Chambers, Cleveland, Kleiner & Tukey (1983), *Graphical
#: Methods for Data Analysis*. One row per day, space-separated; empty fields are
#: missing values (37 of Ozone, 7 of Solar.R).
_AIRQUALITY_COLUMNS = ("Ozone", "Solar.R", "Wind", "Temp", "Month", "Day")
_AIRQUALITY = """
41,190,7.4,67,5,1 36,118,8,72,5,2 12,149,12.6,74,5,3 18,313,11.5,62,5,4 ,,14.3,56,5,5 28,,14.9,66,5,6
23,299,8.6,65,5,7 19,99,13.8,59,5,8 8,19,20.1,61,5,9 ,194,8.6,69,5,10 7,,6.9,74,5,11 16,256,9.7,69,5,12
11,290,9.2,66,5,13 14,274,10.9,68,5,14 18,65,13.2,58,5,15 14,334,11.5,64,5,16 34,307,12,66,5,17 6,78,18.4,57,5,18
30,322,11.5,68,5,19 11,44,9.7,62,5,20 1,8,9.7,59,5,21 11,320,16.6,73,5,22 4,25,9.7,61,5,23 32,92,12,61,5,24
,66,16.6,57,5,25 ,266,14.9,58,5,26 ,,8,57,5,27 23,13,12,67,5,28 45,252,14.9,81,5,29 115,223,5.7,79,5,30
37,279,7.4,76,5,31 ,286,8.6,78,6,1 ,287,9.7,74,6,2 ,242,16.1,67,6,3 ,186,9.2,84,6,4 ,220,8.6,85,6,5
,264,14.3,79,6,6 29,127,9.7,82,6,7 ,273,6.9,87,6,8 71,291,13.8,90,6,9 39,323,11.5,87,6,10 ,259,10.9,93,6,11
,250,9.2,92,6,12 23,148,8,82,6,13 ,332,13.8,80,6,14 ,322,11.5,79,6,15 21,191,14.9,77,6,16 37,284,20.7,72,6,17
20,37,9.2,65,6,18 12,120,11.5,73,6,19 13,137,10.3,76,6,20 ,150,6.3,77,6,21 ,59,1.7,76,6,22 ,91,4.6,76,6,23
,250,6.3,76,6,24 ,135,8,75,6,25 ,127,8,78,6,26 ,47,10.3,73,6,27 ,98,11.5,80,6,28 ,31,14.9,77,6,29
,138,8,83,6,30 135,269,4.1,84,7,1 49,248,9.2,85,7,2 32,236,9.2,81,7,3 ,101,10.9,84,7,4 64,175,4.6,83,7,5
40,314,10.9,83,7,6 77,276,5.1,88,7,7 97,267,6.3,92,7,8 97,272,5.7,92,7,9 85,175,7.4,89,7,10 ,139,8.6,82,7,11
10,264,14.3,73,7,12 27,175,14.9,81,7,13 ,291,14.9,91,7,14 7,48,14.3,80,7,15 48,260,6.9,81,7,16 35,274,10.3,82,7,17
61,285,6.3,84,7,18 79,187,5.1,87,7,19 63,220,11.5,85,7,20 16,7,6.9,74,7,21 ,258,9.7,81,7,22 ,295,11.5,82,7,23
80,294,8.6,86,7,24 108,223,8,85,7,25 20,81,8.6,82,7,26 52,82,12,86,7,27 82,213,7.4,88,7,28 50,275,7.4,86,7,29
64,253,7.4,83,7,30 59,254,9.2,81,7,31 39,83,6.9,81,8,1 9,24,13.8,81,8,2 16,77,7.4,82,8,3 78,,6.9,86,8,4
35,,7.4,85,8,5 66,,4.6,87,8,6 122,255,4,89,8,7 89,229,10.3,90,8,8 110,207,8,90,8,9 ,222,8.6,92,8,10
,137,11.5,86,8,11 44,192,11.5,86,8,12 28,273,11.5,82,8,13 65,157,9.7,80,8,14 ,64,11.5,79,8,15 22,71,10.3,77,8,16
59,51,6.3,79,8,17 23,115,7.4,76,8,18 31,244,10.9,78,8,19 44,190,10.3,78,8,20 21,259,15.5,77,8,21 9,36,14.3,72,8,22
,255,12.6,75,8,23 45,212,9.7,79,8,24 168,238,3.4,81,8,25 73,215,8,86,8,26 ,153,5.7,88,8,27 76,203,9.7,97,8,28
118,225,2.3,94,8,29 84,237,6.3,96,8,30 85,188,6.3,94,8,31 96,167,6.9,91,9,1 78,197,5.1,92,9,2 73,183,2.8,93,9,3
91,189,4.6,93,9,4 47,95,7.4,87,9,5 32,92,15.5,84,9,6 20,252,10.9,80,9,7 23,220,10.3,78,9,8 21,230,10.9,75,9,9
24,259,9.7,73,9,10 44,236,14.9,81,9,11 21,259,15.5,76,9,12 28,238,6.3,77,9,13 9,24,10.9,71,9,14 13,112,11.5,71,9,15
46,237,6.9,78,9,16 18,224,13.8,67,9,17 13,27,10.3,76,9,18 24,238,10.3,68,9,19 16,201,8,82,9,20 13,238,12.6,64,9,21
23,14,9.2,71,9,22 36,139,10.3,81,9,23 7,49,10.3,69,9,24 14,20,16.6,63,9,25 30,193,6.9,70,9,26 ,145,13.2,77,9,27
14,191,14.3,75,9,28 18,131,8,76,9,29 20,223,11.5,68,9,30
"""


def load_airquality():
    """R's ``airquality`` data: 153 days of ozone and weather in New York, with missing values.

    Daily readings, May 1 to September 30, 1973: mean ozone (ppb, 13:00 to
    15:00 at Roosevelt Island), solar radiation (Langleys, 08:00 to 12:00 at
    Central Park), mean wind speed (mph, 07:00 and 10:00 at LaGuardia
    Airport), maximum temperature (degrees F, LaGuardia), month and day.
    Ozone is missing on 37 days and solar radiation on 7. Source: New York
    State Department of Conservation and the National Weather Service, as in
    R's ``datasets`` package (Chambers, Cleveland, Kleiner & Tukey 1983,
    *Graphical Methods for Data Analysis*).

    Returns
    -------
    X : ndarray of shape (153, 6), float64
        Columns ``Ozone, Solar.R, Wind, Temp, Month, Day``; NaN where missing.
    feature_names : list of str
    """
    rows = [row.split(",") for row in _AIRQUALITY.split()]
    X = np.array([[float(v) if v else np.nan for v in row] for row in rows])
    return X, list(_AIRQUALITY_COLUMNS)
