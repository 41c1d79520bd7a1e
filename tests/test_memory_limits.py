"""The memory check against the least of what binds: the machine's memory and the
limit of the process's container (its cgroup, v1 or v2), read from fake trees."""

import os
import warnings

import numpy as np
import pytest

import fastem
from fastem import _validation
from fastem._validation import available_memory, container_memory
from fastem.cli import main

GiB = 2**30
V1_NO_LIMIT = 9223372036854771712  # what cgroup v1 writes for "no limit"


def tree(root, files):
    """Write ``files`` ({relative path: text}) under ``root``; return ``root``."""
    for path, text in files.items():
        path = root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def v2_group(path, limit, usage, inactive_file=None, active_file=0):
    """Files of a cgroup v2 group at ``path`` (under /sys/fs/cgroup)."""
    files = {f"sys/fs/cgroup/{path}/memory.max".replace("//", "/"): str(limit),
             f"sys/fs/cgroup/{path}/memory.current".replace("//", "/"): str(usage)}
    if inactive_file is not None:
        files[f"sys/fs/cgroup/{path}/memory.stat".replace("//", "/")] = (
            f"anon 1000\nfile 5000\nactive_file {active_file}\ninactive_file {inactive_file}\n"
            "shmem 9\n")
    return files


def v1_group(path, limit, usage, inactive_file=None, active_file=0):
    """Files of a cgroup v1 group at ``path`` (under /sys/fs/cgroup/memory)."""
    base = f"sys/fs/cgroup/memory/{path}".rstrip("/")
    files = {f"{base}/memory.limit_in_bytes": str(limit),
             f"{base}/memory.usage_in_bytes": str(usage)}
    if inactive_file is not None:
        files[f"{base}/memory.stat"] = (
            f"active_file 5\ninactive_file 3\ntotal_active_file {active_file}\n"
            f"total_inactive_file {inactive_file}\n")
    return files


def path_of(root, relative):
    return os.path.join(str(root), *relative.split("/"))


# ----------------------------------------------------------------------
# reading the limits


def test_host_memory_is_memavailable(tmp_path):
    tree(tmp_path, {"proc/meminfo": "MemTotal: 8000 kB\nMemFree: 10 kB\nMemAvailable: 2048 kB\n"})
    assert available_memory(str(tmp_path)) == 2048 * 1024
    assert available_memory(str(tmp_path / "nowhere")) is None


def test_v2_limit_less_usage_counts_reclaimable_cache_as_free(tmp_path):
    tree(tmp_path, {"proc/self/cgroup": "0::/kubepods/pod1\n",
                    **v2_group("kubepods/pod1", 4 * GiB, 3 * GiB, inactive_file=GiB)})
    assert container_memory(str(tmp_path)) == (
        2 * GiB, 4 * GiB, path_of(tmp_path, "sys/fs/cgroup/kubepods/pod1/memory.max"))


def test_v1_limit_less_usage(tmp_path):
    tree(tmp_path, {"proc/self/cgroup": "9:pids:/\n4:memory:/docker/abc\n0::/\n",
                    **v1_group("docker/abc", 2 * GiB, GiB // 2, inactive_file=GiB // 4)})
    assert container_memory(str(tmp_path)) == (
        GiB + GiB // 2 + GiB // 4, 2 * GiB,
        path_of(tmp_path, "sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes"))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_active_file_cache_counts_as_free(tmp_path, version):
    """A memory-mapped file read on every pass of a fit sits on the active list of the
    page cache, which the kernel reclaims too before it ends a process: a container of
    4 GiB whose 3.5 GiB in use are 3 GiB of such cache has 3.5 GiB left, not 0.5 GiB."""
    group, line = (v1_group, "4:memory:") if version == "v1" else (v2_group, "0::")
    tree(tmp_path, {"proc/self/cgroup": f"{line}/job\n",
                    **group("job", 4 * GiB, 3 * GiB + GiB // 2, inactive_file=GiB // 4,
                            active_file=3 * GiB - GiB // 4)})
    assert container_memory(str(tmp_path))[:2] == (3 * GiB + GiB // 2, 4 * GiB)


def test_v1_memory_among_other_controllers_of_one_hierarchy(tmp_path):
    tree(tmp_path, {"proc/self/cgroup": "3:cpu,memory:/job\n",
                    **v1_group("job", 2 * GiB, GiB)})
    assert container_memory(str(tmp_path))[:2] == (GiB, 2 * GiB)


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("binding", ["parent", "child"])
def test_nested_groups_the_tightest_binds(tmp_path, version, binding):
    """A parent's limit binds its children: the least left anywhere on the way up counts."""
    group, line, mount, limit_file = (
        (v1_group, "4:memory:", "sys/fs/cgroup/memory", "memory.limit_in_bytes") if version == "v1"
        else (v2_group, "0::", "sys/fs/cgroup", "memory.max"))
    parent_left, child_left = (GiB, 3 * GiB) if binding == "parent" else (3 * GiB, GiB)
    tree(tmp_path, {"proc/self/cgroup": f"{line}/slurm/job7/step0\n",
                    **group("slurm/job7", 8 * GiB, 8 * GiB - parent_left),
                    **group("slurm/job7/step0", 6 * GiB, 6 * GiB - child_left)})
    binds = "slurm/job7" if binding == "parent" else "slurm/job7/step0"
    assert container_memory(str(tmp_path)) == (
        GiB, 8 * GiB if binding == "parent" else 6 * GiB,
        path_of(tmp_path, f"{mount}/{binds}/{limit_file}"))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_container_that_sees_its_own_group_as_the_root(tmp_path, version):
    """Without a cgroup namespace /proc/self/cgroup names the host's path, while the
    container has its own group mounted as the root of the hierarchy."""
    group, line = (v1_group, "4:memory:") if version == "v1" else (v2_group, "0::")
    tree(tmp_path, {"proc/self/cgroup": f"{line}/system.slice/docker-abc.scope\n",
                    **group("", 2 * GiB, GiB)})
    assert container_memory(str(tmp_path))[:2] == (GiB, 2 * GiB)


def test_a_group_beyond_its_namespace_reads_the_root(tmp_path):
    tree(tmp_path, {"proc/self/cgroup": "0::/../../other\n", **v2_group("", 2 * GiB, GiB)})
    assert container_memory(str(tmp_path))[:2] == (GiB, 2 * GiB)


def test_usage_above_the_limit_leaves_nothing(tmp_path):
    tree(tmp_path, {"proc/self/cgroup": "0::/a\n", **v2_group("a", GiB, 2 * GiB)})
    assert container_memory(str(tmp_path))[0] == 0


@pytest.mark.parametrize("files", [
    pytest.param({"proc/self/cgroup": "0::/a\n", **v2_group("a", "max", GiB)}, id="v2-max"),
    pytest.param({"proc/self/cgroup": "4:memory:/a\n", **v1_group("a", V1_NO_LIMIT, GiB),
                  **v1_group("", V1_NO_LIMIT, GiB)}, id="v1-unlimited"),
    pytest.param({"proc/self/cgroup": "0::/a\n", **v2_group("a", "lots", GiB)}, id="garbage"),
    pytest.param({"proc/self/cgroup": "0::/a\n", **v2_group("a", "", GiB)}, id="empty"),
    pytest.param({"proc/self/cgroup": "0::/a\n",
                  "sys/fs/cgroup/a/memory.max": str(GiB)}, id="no-usage"),
    pytest.param({"proc/self/cgroup": "0::/a\n",
                  "sys/fs/cgroup/a/memory.current": str(GiB)}, id="no-limit-file"),
    pytest.param({"proc/self/cgroup": "0::/a\n"}, id="no-cgroup-mounted"),
    pytest.param({**v2_group("", GiB, 0)}, id="no-proc-self-cgroup"),
    pytest.param({"proc/self/cgroup": "4:cpu:/a\n", **v1_group("a", GiB, 0)},
                 id="v1-memory-not-in-the-process-hierarchies"),
    pytest.param({}, id="nothing"),
])
def test_no_limit_or_unreadable_files_fall_back_silently(tmp_path, files):
    assert container_memory(str(tree(tmp_path, files))) is None


def test_unreadable_files_fall_back_silently(tmp_path):
    """A limit file that cannot be read (here a directory in its place) is skipped."""
    tree(tmp_path, {"proc/self/cgroup": "0::/a\n", "sys/fs/cgroup/a/memory.current": "1"})
    (tmp_path / "sys/fs/cgroup/a/memory.max").mkdir()
    (tmp_path / "sys/fs/cgroup/a/memory.stat").mkdir()
    assert container_memory(str(tmp_path)) is None
    tree(tmp_path, v2_group("", 2 * GiB, GiB))  # the root's limit still counts
    assert container_memory(str(tmp_path))[:2] == (GiB, 2 * GiB)
    (tmp_path / "proc/self/cgroup").unlink()
    (tmp_path / "proc/self/cgroup").mkdir()
    assert container_memory(str(tmp_path)) is None


def test_the_real_machine_gives_a_figure_or_none():
    figure = container_memory()
    assert figure is None or (figure[0] >= 0 and figure[1] > 0 and os.path.isfile(figure[2]))


# ----------------------------------------------------------------------
# every caller of the memory check refuses beyond the container's limit


def _fitted():
    X = np.random.default_rng(0).normal(size=(100, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fastem.GaussianMixture(2, random_state=0, max_iter=3).fit(X)


@pytest.fixture
def model_file(tmp_path):
    path = str(tmp_path / "model.npz")
    _fitted().save(path)
    return path


def _api(call):
    def raised(model_file, tmp_path, capsys):
        with pytest.raises(ValueError) as caught:
            call()
        return str(caught.value)
    return raised


def _cli(*argv):
    def printed(model_file, tmp_path, capsys):
        argv_ = [str(a).format(model=model_file, out=tmp_path / "out.npy") for a in argv]
        assert main(argv_) == 1
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1 and not os.path.exists(tmp_path / "out.npy")
        return err
    return printed


CALLERS = [
    pytest.param(_api(lambda: _fitted().sample(10**9)), "n_samples=1,000,000,000 samples",
                 "draw fewer at a time", id="sample"),
    pytest.param(_api(lambda: fastem.datasets.make_demo_data(10**9)), "n_samples=1,000,000,000 "
                 "demo points", "draw fewer.", id="make_demo_data"),
    pytest.param(_cli("sample", "{model}", "-n", 10**9, "-o", "{out}"),
                 "-n 1,000,000,000 samples", "draw fewer (-n)", id="cli-sample"),
    pytest.param(_cli("demo", "--n-samples", 10**9), "--n-samples 1,000,000,000 demo points",
                 "use a smaller --n-samples", id="cli-demo"),
]


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("call, what, fix", CALLERS)
def test_beyond_the_containers_limit_is_refused_naming_it(
        call, what, fix, version, model_file, tmp_path, capsys, monkeypatch):
    """The machine has 64 GiB free, the container 1 GiB: the container's limit binds, and
    the error says so, with its figures, where it was read and both fixes."""
    group, line = (v1_group, "4:memory:") if version == "v1" else (v2_group, "0::")
    root = tree(tmp_path / "root", {"proc/self/cgroup": f"{line}/ci/job\n",
                                    **group("ci/job", 4 * GiB, 3 * GiB)})
    monkeypatch.setattr(_validation, "available_memory", lambda: 64 * GiB)
    monkeypatch.setattr(_validation, "container_memory",
                        lambda real=container_memory: real(str(root)))
    message = call(model_file, tmp_path, capsys)
    limit_file = ("sys/fs/cgroup/memory/ci/job/memory.limit_in_bytes" if version == "v1"
                  else "sys/fs/cgroup/ci/job/memory.max")
    assert what in message and "GiB of memory, more than the 1.0 GiB left under the memory " \
        f"limit of this process's container (4.0 GiB, {path_of(root, limit_file)}; " in message
    assert "raise the container's memory limit, or " + fix in message
    assert "on this machine" not in message


@pytest.mark.parametrize("call, what, fix", CALLERS)
def test_beyond_the_machines_memory_is_refused_naming_it(
        call, what, fix, model_file, tmp_path, capsys, monkeypatch):
    """A container limit that leaves more than the machine has free does not bind."""
    root = tree(tmp_path / "root", {"proc/self/cgroup": "0::/ci\n",
                                    **v2_group("ci", 100 * GiB, GiB)})
    monkeypatch.setattr(_validation, "available_memory", lambda: GiB)
    monkeypatch.setattr(_validation, "container_memory",
                        lambda real=container_memory: real(str(root)))
    message = call(model_file, tmp_path, capsys)
    assert what in message and "more than the 1.0 GiB available on this machine: " + fix in message
    assert "container" not in message


def test_within_the_containers_limit_draws(monkeypatch, tmp_path):
    root = tree(tmp_path, {"proc/self/cgroup": "0::/ci\n", **v2_group("ci", 4 * GiB, 3 * GiB)})
    monkeypatch.setattr(_validation, "container_memory",
                        lambda real=container_memory: real(str(root)))
    X, _ = _fitted().sample(1000)
    assert X.shape == (1000, 2)


# ----------------------------------------------------------------------
# per-row outputs of a prediction: checked before the pass, the fix is out=


@pytest.fixture
def small_memory(monkeypatch, tmp_path):
    """10 KiB of memory left under a container's limit, and outputs above 1 KiB checked."""
    from fastem import data

    root = tree(tmp_path / "root", {"proc/self/cgroup": "0::/job\n",
                                    **v2_group("job", 1 << 20, (1 << 20) - 10240)})
    monkeypatch.setattr(_validation, "available_memory", lambda: 64 * GiB)
    monkeypatch.setattr(_validation, "container_memory",
                        lambda real=container_memory: real(str(root)))
    monkeypatch.setattr(data, "CHUNK_BYTES", 1024)


PREDICTIONS = {
    "predict_proba": (lambda m, X, **kw: m.predict_proba(X, **kw), (3,), np.float64),
    "score_samples": (lambda m, X, **kw: m.score_samples(X, **kw), (), np.float64),
    "predict": (lambda m, X, **kw: m.predict(X, **kw), (), np.int64),
}


@pytest.mark.parametrize("method", list(PREDICTIONS))
@pytest.mark.parametrize("kind", ["array", "memory map", "Chunks"])
def test_outputs_beyond_the_memory_are_refused_before_the_pass(method, kind, small_memory,
                                                                 tmp_path):
    call, columns, dtype = PREDICTIONS[method]
    X = np.random.default_rng(0).normal(size=(4000, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastem.GaussianMixture(3, random_state=0, max_iter=3).fit(X[:200])
    np.save(tmp_path / "X.npy", X)
    data = {"array": X, "memory map": np.load(tmp_path / "X.npy", mmap_mode="r"),
            "Chunks": fastem.Chunks([X[:2000], X[2000:]])}[kind]
    with pytest.raises(ValueError) as caught:
        call(model, data)
    message, shape = str(caught.value), (4000, *columns)
    what = "these chunks" if kind == "Chunks" else "this data"
    assert (f"the results for {what}, of shape {shape} and dtype {np.dtype(dtype).name}, need "
            "about") in message
    assert "under the memory limit of this process's container" in message
    assert (f"pass out=np.lib.format.open_memmap(path, mode='w+', dtype='{np.dtype(dtype).name}'"
            f", shape={shape}) to write them to a file instead") in message
    out = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=dtype, shape=shape)
    assert call(model, data, out=out) is out


def test_cli_predict_beyond_the_memory_is_refused_before_the_pass(small_memory, tmp_path,
                                                                   capsys):
    X = np.random.default_rng(0).normal(size=(4000, 2))
    np.save(tmp_path / "X.npy", X)
    assert main(["fit", str(tmp_path / "X.npy"), "-k", "3", "--max-iter", "3", "--quiet",
                 "-o", str(tmp_path / "m.npz")]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "X.npy"), "--proba",
                 "-o", str(tmp_path / "p.npy")]) == 1
    err = capsys.readouterr().err
    assert "the probabilities of 4,000 samples need about" in err, err
    assert "split DATA into smaller files and predict each" in err, err
    assert not os.path.exists(tmp_path / "p.npy")


def test_cli_impute_beyond_the_memory_is_refused_before_the_pass(small_memory, tmp_path,
                                                                  capsys):
    X = np.random.default_rng(0).normal(size=(4000, 2))
    X[::7, 1] = np.nan
    np.save(tmp_path / "X.npy", X)
    assert main(["fit", str(tmp_path / "X.npy"), "-k", "2", "--max-iter", "3", "--quiet",
                 "--missing", "em", "-o", str(tmp_path / "m.npz")]) == 0
    capsys.readouterr()
    assert main(["impute", str(tmp_path / "m.npz"), str(tmp_path / "X.npy"),
                 "-o", str(tmp_path / "filled.npy")]) == 1
    err = capsys.readouterr().err
    assert "the imputed values of 4,000 samples need about" in err, err
    assert "split DATA into smaller files and impute each" in err, err
    assert not os.path.exists(tmp_path / "filled.npy")


@pytest.mark.parametrize("kind", ["array", "memory map", "Chunks"])
def test_fit_predict_refuses_its_labels_before_the_fit(kind, small_memory, tmp_path):
    """fit_predict has no out=: the error names fit then predict with out=, and comes
    before the fit, whose work it would otherwise throw away."""
    X = np.random.default_rng(0).normal(size=(4000, 2))
    np.save(tmp_path / "X.npy", X)
    data = {"array": X, "memory map": np.load(tmp_path / "X.npy", mmap_mode="r"),
            "Chunks": fastem.Chunks([X[:2000], X[2000:]])}[kind]
    model = fastem.GaussianMixture(3, random_state=0, max_iter=3)
    fits = []
    model._fit = fits.append
    with pytest.raises(ValueError) as caught:
        model.fit_predict(data)
    assert fits == []
    message = str(caught.value)
    assert "under the memory limit of this process's container" in message
    assert ("call fit(X), then predict(X, out=np.lib.format.open_memmap(path, mode='w+', "
            "dtype='int64', shape=(4000,))) to write them to a file") in message, message
